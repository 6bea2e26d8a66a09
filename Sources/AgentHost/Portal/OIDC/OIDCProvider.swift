import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import SecurityCore
import Synchronization

/// AgentHost as an OpenID Connect client of one provider: its discovery document, the
/// authorization request (code flow, PKCE S256, `state` and `nonce`), the code's exchange, and the
/// id_token verified in full before anything in it is believed.
///
/// The provider's keys are cached and fetched again when an id_token names a key id they lack (a
/// rotation at the provider), at most once every ``keyRefreshInterval``. Every time read here comes
/// from the injected clocks.
final class OIDCProvider: Sendable {
    /// What the discovery document says, of what AgentHost uses.
    struct Metadata: Decodable, Sendable {
        let issuer: String
        let authorizationEndpoint: String
        let tokenEndpoint: String
        let jwksURI: String
        let tokenEndpointAuthMethods: [String]?
        let issParameterSupported: Bool?

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
            case tokenEndpointAuthMethods = "token_endpoint_auth_methods_supported"
            case issParameterSupported = "authorization_response_iss_parameter_supported"
        }
    }

    /// The claims of an id_token AgentHost reads. `aud` is one string or several.
    struct IDToken: JWTPayload, Sendable {
        let iss: String
        let sub: String
        let aud: AudienceClaim
        let azp: String?
        let exp: Int64
        let iat: Int64
        let nonce: String?
        let email: String?
        let emailVerified: Bool?
        let name: String?
        let preferredUsername: String?
        /// Every claim, for the role claim an operator names (filled in once the signature verifies).
        var claims: JSONValue = .null

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, azp, exp, iat, nonce, email, name
            case emailVerified = "email_verified"
            case preferredUsername = "preferred_username"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            iss = try container.decode(String.self, forKey: .iss)
            sub = try container.decode(String.self, forKey: .sub)
            aud = try container.decode(AudienceClaim.self, forKey: .aud)
            azp = try container.decodeIfPresent(String.self, forKey: .azp)
            exp = try Self.seconds(container, .exp)
            iat = try Self.seconds(container, .iat)
            nonce = try container.decodeIfPresent(String.self, forKey: .nonce)
            email = try container.decodeIfPresent(String.self, forKey: .email)
            // Some providers send "true" as a string.
            if let flag = try? container.decodeIfPresent(Bool.self, forKey: .emailVerified) {
                emailVerified = flag
            } else {
                emailVerified = (try? container.decodeIfPresent(String.self, forKey: .emailVerified)).flatMap { $0 == "true" }
            }
            name = try? container.decodeIfPresent(String.self, forKey: .name)
            preferredUsername = try? container.decodeIfPresent(String.self, forKey: .preferredUsername)
        }

        private static func seconds(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int64 {
            if let whole = try? container.decode(Int64.self, forKey: key) { return whole }
            return Int64(try container.decode(Double.self, forKey: key))
        }

        /// The checks happen in ``OIDCProvider/verify(idToken:nonce:)``, against the injected clock.
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    /// The signature algorithms an id_token may use. `none` and the HMAC ones never.
    static let algorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
    /// How long a discovery document is kept.
    static let metadataLifetime = Duration.seconds(3_600)
    /// The least time between two fetches of the keys for an unknown key id.
    static let keyRefreshInterval = Duration.seconds(10)
    /// The largest document, key set or token answer read.
    static let maximumBody = 256 * 1024

    /// The provider's keys jwt-kit could use, and their ids.
    private struct KeySet {
        let collection: JWTKeyCollection
        let ids: Set<String>
        let count: Int
    }

    private struct Cache {
        var metadata: (value: Metadata, fetchedAt: Int64)?
        var keys: KeySet?
        var keysFetchedAt: Int64?
    }

    let configuration: OIDCProviderConfiguration
    private let http: HTTPClient
    private let clock: any TimeSource
    private let ticks: any TickSource
    private let cache = Mutex(Cache())

    init(configuration: OIDCProviderConfiguration, http: HTTPClient, clock: any TimeSource, ticks: any TickSource) {
        self.configuration = configuration
        self.http = http
        self.clock = clock
        self.ticks = ticks
    }

    // MARK: Discovery

    /// The discovery document, fetched from `<issuer>/.well-known/openid-configuration` and kept
    /// for an hour. Its `issuer` must be the configured one exactly, and its endpoints `https://`
    /// (or `http://` to loopback).
    func metadata() async throws -> Metadata {
        let now = ticks.nanoseconds()
        if let held = cache.withLock({ $0.metadata }), now - held.fetchedAt < Self.metadataLifetime.nanoseconds { return held.value }
        let base = configuration.issuer.hasSuffix("/") ? String(configuration.issuer.dropLast()) : configuration.issuer
        let data = try await get(base + "/.well-known/openid-configuration", what: "the discovery document")
        let metadata: Metadata
        do {
            metadata = try JSONDecoder().decode(Metadata.self, from: data)
        } catch {
            throw OIDCError(.discoveryFailed, "the discovery document of \(configuration.name) is not valid JSON with the endpoints")
        }
        guard metadata.issuer == configuration.issuer else {
            throw OIDCError(.discoveryFailed, "\(configuration.name)'s discovery document names another issuer")
        }
        for endpoint in [metadata.authorizationEndpoint, metadata.tokenEndpoint, metadata.jwksURI] where !Self.isSafeEndpoint(endpoint) {
            throw OIDCError(.discoveryFailed, "\(configuration.name)'s discovery document names an endpoint that is not https")
        }
        cache.withLock { $0.metadata = (metadata, now) }
        return metadata
    }

    static func isSafeEndpoint(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty, url.fragment == nil else { return false }
        return url.scheme == "https" || (url.scheme == "http" && AgentHostConfiguration.isLoopback(host))
    }

    // MARK: The authorization request

    /// One sign-in's secrets: `state` (names the sign-in), `nonce` (ends up in the id_token) and
    /// the PKCE verifier (proves the code's redeemer began the sign-in), each 32 random bytes.
    struct Attempt: Sendable, Equatable {
        let state: String
        let nonce: String
        let verifier: String

        static func random() -> Attempt {
            Attempt(
                state: SecureBytes.random(count: 32).base64URLEncoded(), nonce: SecureBytes.random(count: 32).base64URLEncoded(),
                verifier: SecureBytes.random(count: 32).base64URLEncoded())
        }

        /// `BASE64URL(SHA-256(verifier))` (RFC 7636 S256).
        var challenge: String { Base64URL.encode(SecureHash.sha256(Array(verifier.utf8))) }
    }

    /// Where the browser goes to sign in at the provider.
    func authorizationURL(for attempt: Attempt, redirectURI: String) async throws -> String {
        let metadata = try await metadata()
        guard var url = URLComponents(string: metadata.authorizationEndpoint) else {
            throw OIDCError(.discoveryFailed, "\(configuration.name)'s authorization endpoint is not a URL")
        }
        url.queryItems =
            (url.queryItems ?? []) + [
                URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: configuration.clientID),
                URLQueryItem(name: "redirect_uri", value: redirectURI),
                URLQueryItem(name: "scope", value: configuration.scopes.joined(separator: " ")),
                URLQueryItem(name: "state", value: attempt.state), URLQueryItem(name: "nonce", value: attempt.nonce),
                URLQueryItem(name: "code_challenge", value: attempt.challenge), URLQueryItem(name: "code_challenge_method", value: "S256"),
            ]
        // `+` in a value would read as a space: encode it.
        url.percentEncodedQuery = url.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        guard let text = url.string else { throw OIDCError(.discoveryFailed, "cannot build the authorization URL") }
        return text
    }

    // MARK: The code's exchange

    /// Redeems `code` at the token endpoint with the PKCE verifier and the client secret
    /// (`client_secret_basic`, or `client_secret_post` when the provider takes only that), and
    /// returns the id_token, unverified.
    func exchange(code: String, verifier: String, redirectURI: String, clientSecret: SecureBytes) async throws -> String {
        let metadata = try await metadata()
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", verifier),
            ("client_id", configuration.clientID),
        ]
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let methods = metadata.tokenEndpointAuthMethods ?? ["client_secret_basic"]
        if methods.contains("client_secret_basic") || !methods.contains("client_secret_post") {
            let pair = FormBody.encode(configuration.clientID) + ":" + FormBody.encode(clientSecret.unprotectedString())
            request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        } else {
            form.append(("client_secret", clientSecret.unprotectedString()))
        }
        request.body = .bytes(ByteBuffer(string: form.map { FormBody.encode($0.0) + "=" + FormBody.encode($0.1) }.joined(separator: "&")))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: Self.maximumBody)
        } catch {
            throw OIDCError(.exchangeFailed, "\(configuration.name)'s token endpoint did not answer")
        }
        struct Answer: Decodable {
            let idToken: String?
            let error: String?
            enum CodingKeys: String, CodingKey {
                case idToken = "id_token"
                case error
            }
        }
        let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView))
        guard response.status == .ok, let idToken = answer?.idToken else {
            // The provider's error code (`invalid_grant` for a code used twice) says why; its
            // description may echo what was sent, so it is left out.
            let why = answer?.error.map { String($0.prefix(64).filter { $0.isLetter || $0 == "_" }) } ?? "status \(response.status.code)"
            throw OIDCError(.exchangeFailed, "\(configuration.name) refused the code (\(why))")
        }
        return idToken
    }

    // MARK: The id_token

    /// Verifies `idToken` in full: its signature against the provider's keys (fetched again for
    /// an unknown key id), `iss`, `aud` (holds the client id; with several audiences `azp` must be
    /// the client id), `azp` when present, `exp` and `iat` within ``OIDCProviderConfiguration/clockSkew``,
    /// and `nonce`. Throws ``OIDCError`` with code `invalidIDToken` saying which check failed.
    func verify(idToken: String, nonce: String) async throws -> IDToken {
        let header = try Self.header(of: idToken)
        guard let algorithm = header.alg, Self.algorithms.contains(algorithm) else {
            throw OIDCError(.invalidIDToken, "its algorithm is not one AgentHost accepts")
        }
        var token = try await verifiedSignature(idToken, kid: header.kid)
        let payload = idToken.split(separator: ".", omittingEmptySubsequences: false)[1]
        token.claims = Base64URL.decode(payload).flatMap { try? JSONValue.parse($0) } ?? .null
        let skew = configuration.clockSkew.components.seconds
        let now = clock.now()
        guard token.iss == configuration.issuer else { throw OIDCError(.invalidIDToken, "it was issued by someone else (iss)") }
        guard token.aud.value.contains(configuration.clientID) else {
            throw OIDCError(.invalidIDToken, "it is for another client (aud)")
        }
        if token.aud.value.count > 1 || token.azp != nil {
            guard token.azp == configuration.clientID else { throw OIDCError(.invalidIDToken, "it was issued to another party (azp)") }
        }
        guard now < token.exp + skew else { throw OIDCError(.invalidIDToken, "it has expired (exp)") }
        guard token.iat <= now + skew else { throw OIDCError(.invalidIDToken, "it was issued in the future (iat)") }
        guard let held = token.nonce, ConstantTime.equals(Array(held.utf8), Array(nonce.utf8)) else {
            throw OIDCError(.invalidIDToken, "its nonce is not this sign-in's")
        }
        return token
    }

    private struct Header: Decodable {
        let alg: String?
        let kid: String?
    }

    private static func header(of token: String) throws -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: Data(bytes))
        else {
            throw OIDCError(.invalidIDToken, "it is not a signed JWT")
        }
        return header
    }

    /// The token's claims once its signature verifies against the key it names, which the
    /// provider must publish. A token without a key id is taken only from a provider with one key.
    /// (jwt-kit would try its default key for an unknown id: the id is checked here first.)
    private func verifiedSignature(_ idToken: String, kid: String?) async throws -> IDToken {
        var keys = try await keySet(refresh: false)
        if let kid, !keys.ids.contains(kid) {
            keys = try await keySet(refresh: true)
        }
        if let kid {
            guard keys.ids.contains(kid) else { throw OIDCError(.invalidIDToken, "it is signed by a key the provider does not publish") }
        } else {
            guard keys.count == 1 else { throw OIDCError(.invalidIDToken, "it names no key, and the provider publishes several") }
        }
        do {
            return try await keys.collection.verify(idToken, as: IDToken.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw OIDCError(.invalidIDToken, "its signature does not verify")
        } catch let error as JWTError where error.errorType == .missingKIDHeader || error.errorType == .unknownKID {
            throw OIDCError(.invalidIDToken, "it is signed by a key the provider does not publish")
        } catch {
            throw OIDCError(.invalidIDToken, "it does not verify against the provider's keys")
        }
    }

    /// The provider's keys: those held, or fetched from `jwks_uri` when none are held or, with
    /// `refresh`, when the last fetch was ``keyRefreshInterval`` ago or more.
    private func keySet(refresh: Bool) async throws -> KeySet {
        let now = ticks.nanoseconds()
        let held = cache.withLock { ($0.keys, $0.keysFetchedAt) }
        if let keys = held.0, !refresh { return keys }
        if refresh, let keys = held.0, let fetched = held.1, now - fetched < Self.keyRefreshInterval.nanoseconds { return keys }
        let metadata = try await metadata()
        let data = try await get(metadata.jwksURI, what: "the key set")
        let collection = JWTKeyCollection()
        var ids = Set<String>()
        var count = 0
        do {
            let set = try JSONDecoder().decode(JWKS.self, from: data)
            for key in set.keys {
                // A key the library cannot use (an encryption key, an unknown type) is skipped.
                guard (try? await collection.add(jwk: key)) != nil else { continue }
                count += 1
                if let id = key.keyIdentifier?.string { ids.insert(id) }
            }
        } catch {
            throw OIDCError(.discoveryFailed, "\(configuration.name)'s key set is not a JWK set")
        }
        let keys = KeySet(collection: collection, ids: ids, count: count)
        cache.withLock {
            $0.keys = keys
            $0.keysFetchedAt = now
        }
        return keys
    }

    private func get(_ url: String, what: String) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            guard response.status == .ok else {
                throw OIDCError(.discoveryFailed, "\(configuration.name) answered \(response.status.code) for \(what)")
            }
            return Data(try await response.body.collect(upTo: Self.maximumBody).readableBytesView)
        } catch let error as OIDCError {
            throw error
        } catch {
            throw OIDCError(.discoveryFailed, "cannot fetch \(what) of \(configuration.name)")
        }
    }
}

extension Duration {
    /// Whole nanoseconds, for comparing with a `TickSource`.
    fileprivate var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }
}

/// Why a sign-in through a provider failed: a stable code and a reason for the log (never a token,
/// a code or a secret).
struct OIDCError: Error, Sendable, CustomStringConvertible {
    enum Code: String, Sendable {
        /// The provider's discovery document or keys could not be had or used.
        case discoveryFailed = "discovery_failed"
        /// The token endpoint refused the code or did not answer.
        case exchangeFailed = "exchange_failed"
        /// The id_token failed a check.
        case invalidIDToken = "invalid_id_token"
    }

    let code: Code
    let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    var description: String { "\(code.rawValue): \(reason)" }
}
