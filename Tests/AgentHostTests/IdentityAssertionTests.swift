import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
@testable import AgentHost
import SecurityCore
import SecurityStore
import Testing

/// `X-Auth-Assertion` on `/auth/verify` and its keys at `/.well-known/jwks.json`, verified with
/// jwt-kit against the served keys only (as a platform would), decoded as the server's own claims
/// and as Docs/FORWARD_AUTH.md's verifier. Tests/Browser has the PyJWT
/// cross-check against a running server, before and after a SIGHUP rotation.
struct IdentityAssertionTests {
    /// Docs/FORWARD_AUTH.md's Swift verifier, as a platform writes it: jwt-kit's own claim checks,
    /// against the wall clock.
    struct AgentHostIdentity: JWTPayload {
        let iss: IssuerClaim
        let sub: SubjectClaim
        let aud: AudienceClaim
        let exp: ExpirationClaim
        let iat: IssuedAtClaim
        let jti: IDClaim
        let role: String
        let team: String
        let method: String
        let user: String?

        func verify(using algorithm: some JWTAlgorithm) throws {
            try exp.verifyNotExpired()
            try aud.verifyIntendedAudience(includes: "dash.example.com")
            guard iss.value == "https://auth.example.com" else {
                throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not issued by our AgentHost")
            }
        }
    }

    static let original: HTTPFields = [
        HTTPField.Name("X-Original-Method")!: "GET", HTTPField.Name("X-Original-URI")!: "/chat/history",
        HTTPField.Name("X-Original-URL")!: "https://Dash.Example.com:8443/chat/history",
    ]

    func fixture(ttl: Duration = .seconds(60), keyring: Keyring? = nil, clock: ManualTimeSource = ManualTimeSource(1_800_000_000)) throws
        -> HostFixture
    {
        try HostFixture(trustedProxies: ["127.0.0.1", "::1"], keyring: keyring, clock: clock) { configuration in
            configuration.identityAssertion = IdentityAssertionConfiguration(issuer: "https://auth.example.com", lifetime: ttl)
        }
    }

    /// Asks `/auth/verify` with `token` and returns the assertion, or `nil` when there is none.
    func assertion(_ client: some TestClientProtocol, token: String?, extra: HTTPFields = [:]) async throws -> String? {
        var headers = Self.original
        for field in extra { headers[field.name] = field.value }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/auth/verify", method: .get, headers: headers) { response in
            #expect(response.status == .ok)
            return response.headers[HTTPField.Name("X-Auth-Assertion")!]
        }
    }

    func keys(_ client: some TestClientProtocol) async throws -> JWTKeyCollection {
        let text = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/jwk-set+json")
            return String(buffer: response.body)
        }
        return try await JWTKeyCollection().add(jwksJSON: text)
    }

    @Test func anAgentsAssertionVerifiesAgainstTheServedKeys() async throws {
        let fixture = try fixture()
        let token = try fixture.token(agent: "dev-1", role: "developer", team: "core").token
        try await fixture.application().test(.live) { client in
            let assertion = try #require(try await assertion(client, token: token))
            let keys = try await keys(client)
            let claims = try await keys.verify(assertion, as: IdentityAssertions.Claims.self)
            #expect(claims.iss == "https://auth.example.com")
            #expect(claims.sub == "dev-1")
            #expect(claims.aud == "dash.example.com")
            #expect(claims.role == "developer")
            #expect(claims.team == "core")
            #expect(claims.method == "agent-token")
            #expect(claims.user == nil)
            #expect(claims.iat == fixture.clock.now())
            #expect(claims.exp == claims.iat + 60)
            #expect(Base64URL.decode(claims.jti)?.count == 16)
            // The header names the key and the algorithm; the JWKS names the same.
            let header = try #require(Base64URL.decode(assertion.split(separator: ".")[0]))
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any])
            #expect(fields["alg"] as? String == "EdDSA")
            #expect(fields["kid"] as? String == "k-host")

            // A changed payload no longer verifies.
            var parts = assertion.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(Array(#"{"sub":"ceo-1","role":"ceo"}"#.utf8))
            await #expect(throws: (any Error).self) {
                _ = try await keys.verify(parts.joined(separator: "."), as: IdentityAssertions.Claims.self)
            }
        }
    }

    @Test func theDocumentedSwiftVerifierAcceptsItForItsHostOnly() async throws {
        // jwt-kit's ExpirationClaim reads the wall clock: the server's clock starts there.
        let fixture = try fixture(clock: ManualTimeSource(Int64(Date().timeIntervalSince1970)))
        let token = try fixture.token(agent: "dev-1").token
        try await fixture.application().test(.live) { client in
            let keys = try await keys(client)
            let here = try #require(try await assertion(client, token: token))
            let identity = try await keys.verify(here, as: AgentHostIdentity.self)
            #expect(identity.sub.value == "dev-1" && identity.role == "developer" && identity.method == "agent-token")
            let elsewhere = try #require(
                try await assertion(client, token: token, extra: [HTTPField.Name("X-Original-URL")!: "https://other.example.com/"]))
            await #expect(throws: (any Error).self) { _ = try await keys.verify(elsewhere, as: AgentHostIdentity.self) }
        }
    }

    @Test func anAssertionIsKeptUntilHalfItsLifeIsGone() async throws {
        let fixture = try fixture(ttl: .seconds(60))
        let token = try fixture.token().token
        try await fixture.application().test(.live) { client in
            let first = try #require(try await assertion(client, token: token))
            fixture.clock.advance(by: 29)
            #expect(try await assertion(client, token: token) == first)
            // Another audience is another assertion.
            let other = try await assertion(client, token: token, extra: [HTTPField.Name("X-Original-URL")!: "https://other.example.com/"])
            #expect(other != nil && other != first)
            fixture.clock.advance(by: 1)
            let renewed = try #require(try await assertion(client, token: token))
            #expect(renewed != first)
            let claims = try await keys(client).verify(renewed, as: IdentityAssertions.Claims.self)
            #expect(claims.iat == fixture.clock.now())
        }
    }

    @Test func anAssertionNeverOutlivesItsCredential() async throws {
        let fixture = try fixture(ttl: .seconds(600))
        let token = try fixture.components.minter.mint(
            agent: AgentID("short"), role: Role("developer"), team: Team("core"), lifetime: .seconds(90))
        try await fixture.application().test(.live) { client in
            let assertion = try #require(try await assertion(client, token: token.token))
            let claims = try await keys(client).verify(assertion, as: IdentityAssertions.Claims.self)
            #expect(claims.exp == token.claims.expiresAt)
        }
    }

    @Test func anAPIKeysAssertionSaysSo() async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts(
            trustedProxies: ["127.0.0.1", "::1"], assertion: IdentityAssertionConfiguration())
        let issued = try await accounts.createKey(kind: .apiKey, name: "ci", role: Role("admin"), createdBy: "test")
        try await fixture.application().test(.live) { client in
            let assertion = try #require(try await assertion(client, token: issued.credential))
            let claims = try await keys(client).verify(assertion, as: IdentityAssertions.Claims.self)
            #expect(claims.sub == "key:" + issued.record.id)
            #expect(claims.role == "admin")
            #expect(claims.method == "api-key")
            #expect(claims.iss == "agenthost")
        }
        try await store.close()
    }

    @Test func headerTrustAndAnonymousCallersGetNoAssertion() async throws {
        let trusting = try HostFixture(mode: .headerTrust, trustedProxies: ["127.0.0.1", "::1"]) { configuration in
            configuration.identityAssertion = IdentityAssertionConfiguration()
        }
        try await trusting.application().test(.live) { client in
            let claimed: HTTPFields = [
                HTTPField.Name("X-Agent-ID")!: "ceo-1", HTTPField.Name("X-Agent-Role")!: "ceo", HTTPField.Name("X-Agent-Team")!: "core",
            ]
            let assertion = try await assertion(client, token: nil, extra: claimed)
            #expect(assertion == nil)
        }
    }

    @Test func offMeansNoHeaderAndNoKeys() async throws {
        let fixture = try HostFixture(trustedProxies: ["127.0.0.1", "::1"])
        let token = try fixture.token().token
        try await fixture.application().test(.live) { client in
            #expect(try await assertion(client, token: token) == nil)
            let status = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { $0.status }
            #expect(status != .ok)
        }
    }

    @Test func aRotatedKeyringSignsWithTheNewKeyAndStillPublishesTheOld() async throws {
        let old = try Keyring(keys: [TokenKey(id: KeyID("k-old"), secret: .random(count: 32), status: .primary)])
        let fixture = try fixture(keyring: old)
        let token = try fixture.token().token
        try await fixture.application().test(.live) { client in
            let before = try #require(try await assertion(client, token: token))
            let rotated = try old.rotated(to: TokenKey(id: KeyID("k-new"), secret: .random(count: 32), status: .primary))
            try fixture.components.reload(keyring: rotated, policy: fixture.components.policy, rateLimitScopes: RateLimitScope.agentHost)
            let after = try #require(try await assertion(client, token: token))
            #expect(after != before)
            let keys = try await keys(client)
            // Both verify against the keys served after the rotation; each names its own key.
            for (assertion, kid) in [(before, "k-old"), (after, "k-new")] {
                _ = try await keys.verify(assertion, as: IdentityAssertions.Claims.self)
                let header = try #require(Base64URL.decode(assertion.split(separator: ".")[0]))
                #expect(String(decoding: header, as: UTF8.self).contains(#""kid":"\#(kid)""#))
            }
        }
    }

    @Test func everyServerWithTheSameKeyringPublishesTheSameKeys() throws {
        let keyring = try Keyring(keys: [TokenKey(id: KeyID("k-shared"), secret: .random(count: 32), status: .primary)])
        let one = try IdentityAssertions(keyring: keyring, configuration: IdentityAssertionConfiguration(), clock: ManualTimeSource(1))
        let two = try IdentityAssertions(keyring: keyring, configuration: IdentityAssertionConfiguration(), clock: ManualTimeSource(2))
        #expect(one.jwks == two.jwks)
        let another = try Keyring(keys: [TokenKey(id: KeyID("k-shared"), secret: .random(count: 32), status: .primary)])
        let three = try IdentityAssertions(keyring: another, configuration: IdentityAssertionConfiguration(), clock: ManualTimeSource(1))
        #expect(three.jwks != one.jwks)
        // Only public halves are served.
        #expect(!one.jwks.contains(#""d""#))
        #expect(one.jwks.contains(#""crv":"Ed25519""#) && one.jwks.contains(#""kty":"OKP""#))
    }

    @Test(arguments: [("5s", "identity_assertion_ttl"), ("2h", "identity_assertion_ttl"), ("", "identity_assertion_issuer")])
    func settingsOutOfRangeAreRefused(value: String, setting: String) throws {
        let settings = try ServeSettings.defaults.overlaid(
            by: ServeSettings(["identity_assertion": ["true"], setting: [value]], origin: .commandLine))
        #expect(throws: AgentHostError.self) { try settings.resolve() }
        let fine = try ServeSettings.defaults.overlaid(by: ServeSettings(["identity_assertion": ["true"]], origin: .commandLine))
        #expect(try fine.resolve().configuration.identityAssertion == IdentityAssertionConfiguration())
    }
}
