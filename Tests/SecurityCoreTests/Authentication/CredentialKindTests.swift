import Foundation
@testable import SecurityCore
import Testing

/// A credential kind's declaration, and what is derived from it: which authenticators are asked,
/// and what the redactor masks.
struct CredentialKindTests {
    static let partner = CredentialKind(name: "partner-key", prefix: "pk_", minimumBodyLength: 20, headers: ["X-Partner-Key"])

    @Test func theShapeIsThePrefixAndEnoughOfABody() throws {
        let token = try TokenFixture().mint().token
        #expect(CredentialKind.agentToken.occurs(in: "Bearer " + token))
        #expect(CredentialKind.agentToken.occurrences(in: Array("x=\(token)&y".utf8)) == [2..<(2 + token.utf8.count)])
        // Ordinary text that happens to hold a prefix is not a credential.
        for text in ["Noah1.2", "yeah1.0 build", "ah1.", "ahk_short.one", "pk_" + String(repeating: "a", count: 19)] {
            #expect(!CredentialKind.builtIn.anyOccurs(in: text) && !Self.partner.occurs(in: text), "\(text)")
        }
        #expect(Self.partner.occurs(in: "key pk_" + String(repeating: "a", count: 20)))
        // A character outside base64url ends the body.
        #expect(!Self.partner.occurs(in: "pk_" + String(repeating: "a", count: 10) + "." + String(repeating: "a", count: 10)))
        #expect(Self.partner.headers == ["x-partner-key"])
        #expect(Set(CredentialKind.builtIn.map(\.prefix)) == ["ah1.", "ahk_", "ahd_", "ahs_", "ahb1."])
    }

    /// An authenticator is asked only about credentials of its kind: a credential of another
    /// prefix never reaches it, whatever it would have answered.
    @Test func thePipelineAsksOnlyTheAuthenticatorsOfTheKind() throws {
        struct Greedy: Authenticator {
            let kind = CredentialKindTests.partner
            func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
                .success(Principal(subject: .apiKey(try! AgentID("partner")), role: try! Role("member"), team: .none))
            }
        }
        let fixture = try TokenFixture()
        let pipeline = SecurityPipeline(configuration: .init(verifier: fixture.verifier, authenticators: [Greedy()]))
        func proven(_ credential: String) -> Principal? {
            let facts = RequestFacts(
                method: "GET", path: "/x", headers: [HeaderField(name: "Authorization", value: "Bearer " + credential)],
                peerAddress: "10.0.0.1")
            return try? pipeline.authenticate(facts).get()
        }
        #expect(proven("pk_anything")?.id == "key:partner")
        #expect(proven("zz_anything") == nil)
        #expect(proven("ahk_anything") == nil)
        #expect(pipeline.credentialKinds == [.agentToken, Self.partner])
    }

    @Test func theRedactorMasksEveryKindItIsGiven() {
        let key = "pk_" + String(repeating: "Q7", count: 12)
        let plain = SecretRedactor()
        #expect(plain.redact("sent \(key)").contains(key), "a kind nobody declared is not known by its shape")
        let redactor = SecretRedactor(credentialKinds: CredentialKind.builtIn + [Self.partner])
        #expect(redactor.redact("sent \(key) now") == "sent pk_\(SecretRedactor.marker) now")
        let apiKey = "ahk_" + String(repeating: "a", count: 16) + "." + String(repeating: "b", count: 43)
        #expect(redactor.redact(apiKey) == "ahk_" + SecretRedactor.marker)
        #expect(plain.redact(apiKey) == "ahk_" + SecretRedactor.marker)
    }
}
