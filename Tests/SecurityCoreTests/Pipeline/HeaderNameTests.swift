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
}
