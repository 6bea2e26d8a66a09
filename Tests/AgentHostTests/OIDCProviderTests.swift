import AsyncHTTPClient
import Foundation
@testable import AgentHost
import SecurityCore
import Testing

/// AgentHost as an OpenID Connect client, against ``FakeOIDCProvider`` on 127.0.0.1: discovery,
/// the authorization request, the code's exchange, and every check of the id_token.
struct OIDCProviderTests {
    let clock = ManualTimeSource(1_800_000_000)

    func client(_ fake: FakeOIDCProvider, skew: Duration = .seconds(60)) -> OIDCProvider {
        OIDCProvider(
            configuration: OIDCProviderConfiguration(
                name: "fake", issuer: fake.issuer, clientID: fake.clientID, defaultRole: try? Role("viewer"), clockSkew: skew),
            http: HTTPClient.shared, clock: clock, ticks: clock)
    }

    func expectRefusal(_ code: OIDCError.Code, _ text: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code.rawValue): \(text)")
        } catch let error as OIDCError {
            #expect(error.code == code, "\(error)")
            #expect(error.reason.contains(text), "\(error)")
        } catch {
            Issue.record("expected an OIDCError, got \(error)")
        }
    }

    @Test func theAuthorizationRequestCarriesStateNonceAndAnS256Challenge() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            let provider = client(fake)
            let attempt = OIDCProvider.Attempt.random()
            let text = try await provider.authorizationURL(for: attempt, redirectURI: "https://app.example.com/auth/oidc/fake/callback")
            let url = try #require(URLComponents(string: text))
            #expect(url.path == "/authorize")
            let query = Dictionary(uniqueKeysWithValues: (url.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(query["response_type"] == "code" && query["client_id"] == fake.clientID)
            #expect(query["state"] == attempt.state && query["nonce"] == attempt.nonce)
            #expect(query["code_challenge_method"] == "S256")
            #expect(query["code_challenge"] == Base64URL.encode(SecureHash.sha256(Array(attempt.verifier.utf8))))
            #expect(query["redirect_uri"] == "https://app.example.com/auth/oidc/fake/callback")
            #expect(query["scope"] == "openid email profile")
            #expect(query["code_verifier"] == nil)
            // Each attempt's secrets are its own.
            #expect(OIDCProvider.Attempt.random() != attempt)
        }
    }

    @Test func aCodeIsRedeemedOnceAndOnlyWithItsVerifier() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            let provider = client(fake)
            let attempt = OIDCProvider.Attempt.random()
            let issued = try await fake.sign(fake.claims(nonce: attempt.nonce, now: clock.now()))
            let code = fake.code(for: issued, challenge: attempt.challenge)
            let secret = SecureBytes(copying: Array(fake.clientSecret.utf8))
            let redirect = "https://app.example.com/auth/oidc/fake/callback"
            let idToken = try await provider.exchange(code: code, verifier: attempt.verifier, redirectURI: redirect, clientSecret: secret)
            #expect(idToken == issued)
            await expectRefusal(.exchangeFailed, "invalid_grant") {
                _ = try await provider.exchange(code: code, verifier: attempt.verifier, redirectURI: redirect, clientSecret: secret)
            }
            let other = fake.code(for: issued, challenge: attempt.challenge)
            await expectRefusal(.exchangeFailed, "invalid_grant") {
                _ = try await provider.exchange(
                    code: other, verifier: OIDCProvider.Attempt.random().verifier, redirectURI: redirect, clientSecret: secret)
            }
            await expectRefusal(.exchangeFailed, "invalid_client") {
                _ = try await provider.exchange(
                    code: other, verifier: attempt.verifier, redirectURI: redirect, clientSecret: SecureBytes(copying: Array("no".utf8)))
            }
        }
    }

    @Test func aGoodIDTokenVerifiesWithRS256AndES256() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            let provider = client(fake)
            for kid in ["rs-1", "es-1"] {
                let token = try await provider.verify(
                    idToken: try await fake.sign(fake.claims(nonce: "n-1", now: clock.now()), kid: kid), nonce: "n-1")
                #expect(token.sub == "248289761001" && token.email == "alice@example.com" && token.emailVerified == true)
                #expect(token.claims["groups"]?.arrayValue?.first?.stringValue == "engineering")
            }
        }
    }

    @Test func everyClaimIsChecked() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            let provider = client(fake)
            let now = clock.now()
            func refused(_ text: String, nonce: String = "n-1", _ change: (inout FakeOIDCProvider.Claims) -> Void) async throws {
                var claims = fake.claims(nonce: "n-1", now: now)
                change(&claims)
                let token = try await fake.sign(claims)
                await expectRefusal(.invalidIDToken, text) { _ = try await provider.verify(idToken: token, nonce: nonce) }
            }
            try await refused("aud") { $0.aud = ["someone-else"] }
            try await refused("iss") { $0.iss = "https://evil.example.com" }
            try await refused("azp") { $0.aud = [fake.clientID, "other"] }
            try await refused("azp") { $0.azp = "other" }
            try await refused("exp") { $0.exp = now - 61 }
            try await refused("iat") { $0.iat = now + 61 }
            try await refused("nonce") { $0.nonce = "n-2" }
            try await refused("nonce") { $0.nonce = nil }
            try await refused("nonce", nonce: "n-2") { _ in }
            // Within the skew both ways.
            var lenient = fake.claims(nonce: "n-1", now: now)
            lenient.exp = now - 59
            lenient.iat = now + 59
            lenient.aud = [fake.clientID, "other"]
            lenient.azp = fake.clientID
            _ = try await provider.verify(idToken: try await fake.sign(lenient), nonce: "n-1")
        }
    }

    @Test func aTokenSignedByAnUnpublishedKeyOrAnotherAlgorithmIsRefused() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            let provider = client(fake)
            let claims = fake.claims(nonce: "n-1", now: clock.now())
            let rogue = try await fake.sign(claims, kid: "rogue")
            await expectRefusal(.invalidIDToken, "does not publish") { _ = try await provider.verify(idToken: rogue, nonce: "n-1") }
            // Another key's signature under a published kid.
            var parts = rogue.split(separator: ".").map(String.init)
            parts[0] = Base64URL.encode(Array(#"{"alg":"ES256","kid":"es-1","typ":"JWT"}"#.utf8))
            await expectRefusal(.invalidIDToken, "signature") {
                _ = try await provider.verify(idToken: parts.joined(separator: "."), nonce: "n-1")
            }
            // A changed payload.
            let good = try await fake.sign(claims).split(separator: ".").map(String.init)
            let forged = [good[0], Base64URL.encode(Array(#"{"sub":"admin"}"#.utf8)), good[2]].joined(separator: ".")
            await expectRefusal(.invalidIDToken, "signature") { _ = try await provider.verify(idToken: forged, nonce: "n-1") }
            // `none` and HMAC (the client secret as a key) are never accepted.
            for header in [#"{"alg":"none"}"#, #"{"alg":"HS256","kid":"es-1"}"#] {
                let token = [Base64URL.encode(Array(header.utf8)), good[1], good[2]].joined(separator: ".")
                await expectRefusal(.invalidIDToken, "algorithm") { _ = try await provider.verify(idToken: token, nonce: "n-1") }
            }
        }
    }

    @Test func aKeyPublishedLaterIsFetchedOnItsFirstTokenAtMostEveryTenSeconds() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            let provider = client(fake)
            let claims = fake.claims(nonce: "n-1", now: clock.now())
            _ = try await provider.verify(idToken: try await fake.sign(claims), nonce: "n-1")
            fake.publish("rogue")
            let rotated = try await fake.sign(claims, kid: "rogue")
            // The keys were fetched a moment ago: not again yet.
            await expectRefusal(.invalidIDToken, "does not publish") { _ = try await provider.verify(idToken: rotated, nonce: "n-1") }
            clock.advance(by: .seconds(10))
            _ = try await provider.verify(idToken: rotated, nonce: "n-1")
        }
    }

    @Test func discoveryMustNameTheConfiguredIssuer() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            fake.claimIssuer("https://evil.example.com")
            await expectRefusal(.discoveryFailed, "another issuer") {
                _ = try await client(fake).authorizationURL(for: .random(), redirectURI: "https://app.example.com/cb")
            }
        }
    }

    @Test(arguments: [
        ("Bad", "https://id.example.com", "name"), ("google", "http://id.example.com", "issuer"),
        ("google", "https://id.example.com?x=1", "issuer"), ("google", "https://id.example.com", "role"),
    ])
    func unusableProvidersAreRefused(name: String, issuer: String, problem: String) throws {
        let provider = OIDCProviderConfiguration(name: name, issuer: issuer, clientID: "c")
        #expect(throws: AgentHostError.self) { try provider.validate() }
        do {
            try provider.validate()
        } catch let error as AgentHostError {
            #expect(error.reason.contains(problem), "\(error.reason)")
        }
        try OIDCProviderConfiguration(name: "google", issuer: "https://accounts.google.com", clientID: "c", defaultRole: Role("viewer"))
            .validate()
        try OIDCProviderConfiguration(name: "local", issuer: "http://127.0.0.1:9400", clientID: "c", defaultRole: Role("viewer")).validate()
    }
}
