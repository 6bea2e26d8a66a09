@testable import SecurityCore
import Testing

struct HeaderNameTests {
    @Test func asciiLettersMatchInEitherCase() {
        #expect(asciiCaseInsensitiveEquals("Authorization", "authorization"))
        #expect(asciiCaseInsensitiveEquals("X-AGENT-TOKEN", "x-agent-token"))
        #expect(asciiCaseInsensitiveEquals("origin"[...], "Origin"))
        #expect(asciiCaseInsensitiveEquals("", ""))
    }

    @Test func onlyLettersFoldAndLengthsMustAgree() {
        // Bytes 0x20 apart that are not letters are different characters.
        #expect(!asciiCaseInsensitiveEquals("x@", "x`"))
        #expect(!asciiCaseInsensitiveEquals("a[", "a{"))
        #expect(!asciiCaseInsensitiveEquals("x-agent-id", "x_agent_id"))
        #expect(!asciiCaseInsensitiveEquals("authorization", "authorizatio"))
        // Outside ASCII, bytes must match exactly.
        #expect(asciiCaseInsensitiveEquals("é", "é"))
        #expect(!asciiCaseInsensitiveEquals("é", "É"))
    }

    /// The credential headers' own matcher: the name's letters in any case, everything else exact.
    @Test func credentialHeaderNamesMatchInAnyCase() {
        for name in ["authorization", "Authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"] {
            #expect(CredentialHeaders.named(name, "authorization"), "\(name)")
        }
        for name in ["authorizatio", "authorizationn", "authorizati0n", "authorization ", "Authorızation", "@uthorization", ""] {
            #expect(!CredentialHeaders.named(name, "authorization"), "\(name)")
        }
        #expect(CredentialHeaders.named("X-Agent-ID", "x-agent-id"))
        #expect(!CredentialHeaders.named("X_Agent_ID", "x-agent-id"))
        #expect(!CredentialHeaders.named("x\u{0D}agent-id", "x-agent-id"))
    }
}
