import Foundation
@testable import SecurityCore
import Testing

/// Where a credential may be (CredentialLocations) and how authenticators claim credentials.
struct AuthenticatorTests {
    let fixture: TokenFixture

    init() throws {
        fixture = try TokenFixture()
    }

    func facts(_ headers: [(String, String)], method: String = "GET", path: String) -> RequestFacts {
        RequestFacts(
            method: method, path: path, headers: headers.map { HeaderField(name: $0.0, value: $0.1) }, peerAddress: "127.0.0.1",
            bodyLength: nil)
    }

    func pipeline(_ locations: CredentialLocations) -> SecurityPipeline {
        SecurityPipeline(configuration: .init(verifier: fixture.verifier, rateLimiter: nil, credentialLocations: locations))
    }

    func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func basicsPasswordIsTheCredentialOnlyWhereARouteTakesIt() throws {
        let token = try fixture.mint().token
        let git = pipeline(CredentialLocations(basicPassword: [try #require(RouteMatch("/git/*"))]))
        let proven = try git.authenticate(facts([("Authorization", basic("x-access-token", token))], path: "/git/repo.git/info/refs")).get()
        #expect(proven.subject.name == "builder-7")
        // Elsewhere Basic is another scheme.
        let elsewhere = git.authenticate(facts([("Authorization", basic("x", token))], path: "/api/whoami"))
        if case .failure(let refusal) = elsewhere { #expect(refusal.problem.code == "unsupported_scheme") }
        // A wrong password is an invalid credential, not a scheme problem; no colon is no Basic value.
        if case .failure(let refusal) = git.authenticate(facts([("Authorization", basic("x", "ah1.forged"))], path: "/git/r")) {
            #expect(refusal.problem.code == "invalid_token")
        } else {
            Issue.record("a forged Basic password was accepted")
        }
        for value in [
            "Basic " + Data("no-colon".utf8).base64EncodedString(), "Basic !!!", "Basic " + Data("u:".utf8).base64EncodedString(),
        ] {
            if case .failure(let refusal) = git.authenticate(facts([("Authorization", value)], path: "/git/r")) {
                #expect(refusal.problem.code == "unsupported_scheme", "\(value)")
            } else {
                Issue.record("\(value) was accepted")
            }
        }
    }

    @Test func basicPasswordsDecodeStandardBase64WithPadding() {
        #expect(CredentialExtractor.basicPassword(basic("u", "~~~")) == "~~~")  // dTp+fn4=: a + in the encoding
        #expect(CredentialExtractor.basicPassword(basic("u", "??>?")) == "??>?")  // dTo/Pz4/: and a /
        #expect(CredentialExtractor.basicPassword("basic  " + Data("u:a:b".utf8).base64EncodedString() + " ") == "a:b")
        #expect(CredentialExtractor.basicPassword("Basic dTpw") == "p")  // no padding needed
        #expect(CredentialExtractor.basicPassword("Basic dTpwcQ") == nil)  // padding missing
        #expect(CredentialExtractor.basicPassword("Basic dTpwcQ==x") == nil)
        #expect(CredentialExtractor.basicPassword("Bearer dTpw") == nil)
    }

    @Test func aNamedHeaderCarriesACredentialOnItsRoutesAndMustAgreeWithAnyOther() throws {
        let token = try fixture.mint().token
        let sdk = pipeline(CredentialLocations(namedHeaders: [.init(name: "X-API-Key", routes: [try #require(RouteMatch("/v1/*"))])]))
        #expect((try? sdk.authenticate(facts([("x-api-key", token)], path: "/v1/messages")).get())?.subject.name == "builder-7")
        // Not on other routes.
        if case .failure(let refusal) = sdk.authenticate(facts([("x-api-key", token)], path: "/api/whoami")) {
            #expect(refusal.problem.code == "missing_credential")
        } else {
            Issue.record("the named header was read on a route that does not take it")
        }
        // Twice, or beside a different credential: ambiguous. Beside the same one: fine.
        let other = try fixture.mint(agent: "other").token
        for headers in [[("x-api-key", token), ("X-API-Key", token)], [("x-api-key", token), ("Authorization", "Bearer \(other)")]] {
            if case .failure(let refusal) = sdk.authenticate(facts(headers, path: "/v1/messages")) {
                #expect(refusal.problem.code == "ambiguous_credentials")
            } else {
                Issue.record("\(headers.map(\.0)) was accepted")
            }
        }
        #expect((try? sdk.authenticate(facts([("x-api-key", token), ("Authorization", "Bearer \(token)")], path: "/v1/x")).get()) != nil)
    }

    /// A token for another audience is not claimed, and its tag is not checked here: a session
    /// token with a broken tag is left alone rather than refused as a bad signature, so the
    /// session authenticator is the one that computes its tag, once.
    @Test func tokensOfAnotherAudienceAreLeftToTheirOwnAuthenticator() throws {
        let sessionPolicy = try TokenPolicy(audience: "agenthost-session")
        let session = try TokenMinter(keyring: fixture.keyring, policy: sessionPolicy, clock: fixture.clock)
            .mint(agent: AgentID("alice"), role: Role("member"), team: .none).token
        var broken = Array(session)
        broken[broken.count - 3] = broken[broken.count - 3] == "A" ? "B" : "A"
        let agents = AgentTokenAuthenticator(verifier: fixture.verifier)
        #expect(agents.authenticate(PresentedCredential(session, source: .bearer)) == nil)
        #expect(agents.authenticate(PresentedCredential(String(broken), source: .bearer)) == nil)
        let sessions = AgentTokenAuthenticator(
            verifier: TokenVerifier(keyring: fixture.keyring, policy: sessionPolicy, clock: fixture.clock))
        #expect((try? sessions.authenticate(PresentedCredential(session, source: .bearer))?.get()) != nil)
        let refused = sessions.authenticate(PresentedCredential(String(broken), source: .bearer))
        if case .failure(let failure)? = refused {
            #expect(failure.code == .invalidCredential)
        } else {
            Issue.record("a broken tag was accepted")
        }
        // Anything but ah1. is not an agent token's to judge: the pipeline never hands it over.
        #expect(agents.kind == .agentToken)
        #expect(!PresentedCredential("ahk_x.y", source: .bearer).isOfKind(agents.kind))
        #expect(PresentedCredential(session, source: .bearer).isOfKind(agents.kind))
    }
}
