import HTTPTypes
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

    /// A credential header is found whatever the case of its name, through the `[HeaderField]`
    /// adapter as through `HTTPFields` (which keeps names in lower case); a name that is not an
    /// HTTP token is left out, as a parser would refuse it.
    @Test func credentialHeaderNamesMatchInAnyCase() {
        for name in ["authorization", "Authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"] {
            let headers = CredentialHeaders(HTTPFields([HeaderField(name: name, value: "Bearer x")]))
            #expect(headers.authorization == "Bearer x" && headers.authorizationCount == 1, "\(name)")
        }
        for name in ["authorizatio", "authorizationn", "authorizati0n", "authorization ", "Authorızation", "@uthorization", ""] {
            let headers = CredentialHeaders(HTTPFields([HeaderField(name: name, value: "Bearer x")]))
            #expect(headers.authorization == nil && headers.authorizationCount == 0, "\(name)")
        }
        #expect(CredentialHeaders(HTTPFields([HeaderField(name: "X-Agent-ID", value: "a1")])).agent == "a1")
        #expect(CredentialHeaders(HTTPFields([HeaderField(name: "X_Agent_ID", value: "a1")])).agent == nil)
        #expect(CredentialHeaders(HTTPFields([HeaderField(name: "x\u{0D}agent-id", value: "a1")])).agent == nil)
        // Both spellings of one request give the same facts.
        let facts = RequestFacts(method: "GET", path: "/", headers: [HeaderField(name: "X-Agent-Token", value: "t")])
        #expect(facts.fields[HTTPField.Name("x-agent-token")!] == "t")
        #expect(facts.headers == [HeaderField(name: "x-agent-token", value: "t")])
    }
}
