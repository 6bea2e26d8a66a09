import Foundation
import HTTPTypes
import JWTKit
import SecurityCore
import Synchronization

/// The signed identity of forward auth (Docs/FORWARD_AUTH.md): `X-Auth-Assertion`, a short-lived
/// JWT that a platform behind the proxy verifies against `/.well-known/jwks.json` instead of
/// trusting `X-Auth-*` for the network path they came by.
///
/// Each token key of the keyring has an Ed25519 signing key derived from its secret with HKDF
/// (its own label, so no other use of the secret can produce it), named by the token key's id.
/// The primary key signs; every key of the keyring is published, so an assertion signed before a
/// rotation verifies until its key is retired. Every server that shares the keyring derives the
/// same keys, and a reload (SIGHUP) that rotates the keyring rotates them.
///
/// Signing costs more than the rest of `/auth/verify` (Docs/BENCHMARKS.md), so an assertion is
/// kept per principal and audience, and handed out again until half its lifetime is gone; a
/// reload makes a new instance, so nothing signed under a replaced key is handed out after it. Its `exp` never
/// passes the credential's own expiry.
final class IdentityAssertions: Sendable {
    /// The claims of an assertion.
    struct Claims: JWTPayload, Equatable {
        let iss: String
        /// ``Principal/id``: an agent id, `user:alice`, `key:ahk_…` for an API key.
        let sub: String
        /// The protected host the answer is for, lower case, without a port.
        let aud: String
        let role: String
        let team: String
        /// How the caller proved who it is: `X-Auth-Method`'s value (`agent-token`, `user-session`, `api-key`…).
        let method: String
        /// The user name, for a person.
        let user: String?
        let iat: Int64
        let exp: Int64
        let jti: String

        /// Nothing to check here: the server only signs claims it built. The platform checks
        /// `exp`, `aud` and `iss` with its own verifier (Docs/FORWARD_AUTH.md).
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    /// The header that carries the assertion.
    static let headerName = HTTPField.Name("X-Auth-Assertion")!
    /// Where the public keys are served.
    static let jwksPath = "/.well-known/jwks.json"
    /// The HKDF label of the signing keys.
    private static let derivationInfo = Array("agenthost identity assertion ed25519 v1".utf8)
    /// The most assertions kept; past it the expired ones go, then all.
    private static let cacheLimit = 10_000

    private struct CacheKey: Hashable {
        let principal: Principal
        let audience: String
    }

    private struct Cached {
        let token: String
        let renewAt: Int64
    }

    let issuer: String
    let lifetime: Int64
    /// `{"keys": [...]}`, the public half of every key.
    let jwks: String
    /// The key that signs and its id; `nil` when the keyring has no primary key (then nothing is signed).
    private let signing: (kid: JWKIdentifier, key: EdDSA.PrivateKey)?
    /// jwt-kit's signer over ``signing``, made at the first signature: its keys are added in its
    /// actor, which a reload (a synchronous swap) cannot wait for.
    private let signer = Mutex<JWTKeyCollection?>(nil)
    private let clock: any TimeSource
    private let cache = Mutex<[CacheKey: Cached]>([:])

    /// Derives the signing keys of `keyring`. Throws ``AgentHostError`` when a key cannot be derived.
    init(keyring: Keyring, configuration: IdentityAssertionConfiguration, clock: any TimeSource) throws {
        self.issuer = configuration.issuer
        self.lifetime = configuration.lifetime.components.seconds
        self.clock = clock
        var published: [JWK] = []
        var signing: (kid: JWKIdentifier, key: EdDSA.PrivateKey)?
        for key in keyring.keys {
            let privateKey = try Self.signingKey(from: key.secret)
            let kid = JWKIdentifier(string: key.id.rawValue)
            if key.id == keyring.primary?.id { signing = (kid, privateKey) }
            published.append(
                .octetKeyPair(
                    .eddsa, identifier: kid, x: Base64URL.encode(privateKey.publicKey.rawRepresentation), y: nil, curve: .ed25519))
        }
        self.signing = signing
        jwks = try Self.encode(published)
    }

    /// The assertion for `principal` at `audience`, signed or kept from a moment ago; `nil` when
    /// no key signs, the principal is not proven (header-trust), or the audience is empty.
    func assertion(for principal: Principal, audience: String) async throws -> String? {
        guard let signing, principal.subject.isProven, !audience.isEmpty else { return nil }
        let now = clock.now()
        let key = CacheKey(principal: principal, audience: audience)
        if let cached = cache.withLock({ $0[key] }), now < cached.renewAt { return cached.token }
        var expires = now + lifetime
        if let claims = principal.subject.tokenClaims { expires = min(expires, claims.expiresAt) }
        guard expires > now else { return nil }
        let claims = Claims(
            iss: issuer, sub: principal.id, aud: audience, role: principal.role.rawValue, team: principal.team.rawValue,
            method: principal.subject.method, user: principal.subject.userName, iat: now, exp: expires,
            jti: SecureBytes.random(count: 16).base64URLEncoded())
        let token = try await signer(signing).sign(claims, kid: signing.kid)
        cache.withLock { cache in
            if cache.count >= Self.cacheLimit {
                cache = cache.filter { $0.value.renewAt > now }
                if cache.count >= Self.cacheLimit { cache.removeAll() }
            }
            cache[key] = Cached(token: token, renewAt: now + (expires - now) / 2)
        }
        return token
    }

    private func signer(_ signing: (kid: JWKIdentifier, key: EdDSA.PrivateKey)) async -> JWTKeyCollection {
        if let made = signer.withLock({ $0 }) { return made }
        let made = await JWTKeyCollection().add(eddsa: signing.key, kid: signing.kid)
        return signer.withLock { current in
            if let current { return current }
            current = made
            return made
        }
    }

    /// The Ed25519 key derived from a token key's secret.
    private static func signingKey(from secret: SecureBytes) throws -> EdDSA.PrivateKey {
        do {
            let seed = try HKDF.deriveKey(from: secret, salt: [UInt8](), info: derivationInfo, count: 32)
            return try EdDSA.PrivateKey(d: seed.base64URLEncoded(), curve: .ed25519)
        } catch {
            throw AgentHostError(.keys, "cannot derive the identity assertion's signing key")
        }
    }

    private static func encode(_ keys: [JWK]) throws -> String {
        struct KeySet: Encodable { let keys: [JWK] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let text = String(data: try encoder.encode(KeySet(keys: keys)), encoding: .utf8) else {
            throw AgentHostError(.keys, "cannot encode the identity assertion's public keys")
        }
        return text
    }
}
