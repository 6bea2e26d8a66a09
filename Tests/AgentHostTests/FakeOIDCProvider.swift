import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import Logging
import NIOCore
import SecurityCore
import Synchronization

/// A small OpenID Connect provider on 127.0.0.1 for ``OIDCProviderTests``: discovery, a key set
/// whose published keys a test chooses, and a token endpoint that redeems each code once, checks
/// the PKCE verifier and the client's Basic credentials, and answers with the id_token the test
/// issued for that code. The browser tests use a real one (oidc-provider-mock, Tests/Browser).
final class FakeOIDCProvider: Sendable {
    /// Claims a test may put in an id_token, mistakes included.
    struct Claims: JWTPayload {
        var iss: String
        var sub: String
        var aud: [String]
        var azp: String?
        var exp: Int64
        var iat: Int64
        var nonce: String?
        var email: String?
        var email_verified: Bool?
        var groups: [String]?

        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    /// A test-only RSA key (2048 bits, made for this file; it signs nothing else).
    static let rsaJWK = """
        {"kty":"RSA","alg":"RS256","kid":"rs-1",\
        "n":"oDKbqcJ058epEq3kHT8VCO9KGPAAldyn3tfT05iE8CqKIgmGCvk3RO4Z1AJyZKymO9zEQeBjaPKJy86ztziKNhOobS_B5CehH_Cl8Jd9ui1c7rEq6Vr8VgMSxdk-Ibj_7NrzbQCCMX2OYsdLNbeVqbWUp_Z9Uosr8ZPt-KVehMBTNLg5TfVloH64kMpuJ8BbMgqtT7NSOXk4_EWhieXpBtKw-hjujHpBm-HNYuNnoeWOcz25kvfolUtgdgTAVQ5xh7SIZVgnRbUw86YGpmp9PhqJ4aeTB0hOfx0Epbjkdh1hGVk2iLswlT-tvTFEXrPEMYzBu1KlBHa5vQPk83Lifw",\
        "e":"AQAB",\
        "d":"T-uflCwStbV6yHpfVSXtARWcMl-98wXv6_Fh2Oz82XJnkn6M1HmrlKRy1z3XQxmNH01Ozgy7m5Zwn3CCYTSAY2UgQES0pvYMYMpmhuaVD2ZlOCHEJkJBpEmJOpJceGd6qng7PFSmHzmj6OzDPUvXCyEvRjJnKGCNLkreTI933aLotu4nbUX7XPKKDLmcCR239PRPLgEI48hoV1Ejdxg62XVzlAZQ7mYpgyems162HiqYymeo7CW5oxRLKQTkAtvCF0cAlgnnuq7XdkDdot6bIw9RultusNDqQtW7UPqZpTa4_mjU7UG_rPxaeqzyRHniRxHfwDNNq6kcWLAKc977RQ",\
        "p":"3F9q-s1PfcJimLaDuli2y-mE-R4k0ERFOGUEAAa3LhdSsHHkmWAczyvWpHUqpG7vSADly-HfYMLrtlt3jzFizmXDGPD9wPMnL8bXFIi4o8PwwwGtLc4xw_mekZYZ9nmlKKqfvHzUoL-Y6dYzlIyZ_prSG-4mwpEWccejclnpYu0",\
        "q":"uhi4saYDQHdvKeRvIzCsWlgxC_mmabXVg9Mjlu65QIHHQNCplax30Y1IZOal7o7D1_fDmQWGDknthPjlBtQ1FxaMy7mImfSfqOKcQ6Fk9enwLKxIy4iKVPOm26Vv9CFSW5JdAwBLozgpgQYNbdnj4Y6pxpqaIieHwk4T6fhTUZs"}
        """

    private struct Grant {
        let challenge: String
        let idToken: String
    }

    private struct State {
        var issuer = ""
        var published: Set<String> = ["rs-1", "es-1"]
        var grants: [String: Grant] = [:]
        var discoveryIssuer: String?
    }

    let clientID = "agenthost-test"
    let clientSecret = "s3cret+/with:odd chars"
    let signing = JWTKeyCollection()
    private let ecdsa = ES256PrivateKey()
    private let rogue = ES256PrivateKey()
    private let state = Mutex(State())

    var issuer: String { state.withLock { $0.issuer } }

    init() async throws {
        try await signing.add(jwk: JWK(json: Self.rsaJWK))
        await signing.add(ecdsa: ecdsa, kid: "es-1")
        await signing.add(ecdsa: rogue, kid: "rogue")
    }

    /// Publishes the key `kid` (`rogue` is held back until a test publishes it).
    func publish(_ kid: String) { state.withLock { _ = $0.published.insert(kid) } }

    /// Makes discovery name `issuer` instead of the provider's own.
    func claimIssuer(_ issuer: String) { state.withLock { $0.discoveryIssuer = issuer } }

    /// Claims as a correct id_token for `nonce` has them at `now`.
    func claims(nonce: String, now: Int64, sub: String = "248289761001", email: String = "alice@example.com") -> Claims {
        Claims(
            iss: issuer, sub: sub, aud: [clientID], azp: nil, exp: now + 300, iat: now, nonce: nonce, email: email, email_verified: true,
            groups: ["engineering"])
    }

    /// `claims` signed with key `kid`.
    func sign(_ claims: Claims, kid: String = "es-1") async throws -> String {
        try await signing.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// A code the token endpoint redeems once, with the verifier whose S256 is `challenge`, for `idToken`.
    func code(for idToken: String, challenge: String) -> String {
        let code = SecureBytes.random(count: 16).base64URLEncoded()
        state.withLock { $0.grants[code] = Grant(challenge: challenge, idToken: idToken) }
        return code
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/.well-known/openid-configuration") { _, _ in
            let (issuer, claimed) = self.state.withLock { ($0.issuer, $0.discoveryIssuer) }
            return Self.json(
                """
                {"issuer":"\(claimed ?? issuer)","authorization_endpoint":"\(issuer)/authorize","token_endpoint":"\(issuer)/token",
                 "jwks_uri":"\(issuer)/jwks","response_types_supported":["code"],"authorization_response_iss_parameter_supported":true}
                """)
        }
        router.get("/jwks") { _, _ in
            let published = self.state.withLock { $0.published }
            var keys: [String] = []
            if published.contains("rs-1") {
                let rsa = try JSONSerialization.jsonObject(with: Data(Self.rsaJWK.utf8)) as? [String: Any] ?? [:]
                keys.append(#"{"kty":"RSA","alg":"RS256","kid":"rs-1","n":"\#(rsa["n"] ?? "")","e":"AQAB","use":"sig"}"#)
            }
            for (kid, key) in [("es-1", self.ecdsa), ("rogue", self.rogue)] where published.contains(kid) {
                let point = key.publicKey.parameters
                keys.append(
                    #"{"kty":"EC","crv":"P-256","alg":"ES256","kid":"\#(kid)","x":"\#(point?.x ?? "")","y":"\#(point?.y ?? "")"}"#)
            }
            // A key AgentHost cannot use must be skipped, not fail the set.
            keys.append(#"{"kty":"RSA","use":"enc","kid":"enc-1","n":"AQAB","e":"AQAB","alg":"RSA-OAEP"}"#)
            return Self.json(#"{"keys":[\#(keys.joined(separator: ","))]}"#)
        }
        router.post("/token") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 65_536)
            guard let form = try? FormBody(parsing: Array(body.readableBytesView)) else {
                return Self.json(#"{"error":"invalid_request"}"#, status: .badRequest)
            }
            let expected =
                "Basic " + Data((FormBody.encode(self.clientID) + ":" + FormBody.encode(self.clientSecret)).utf8).base64EncodedString()
            guard request.headers[.authorization] == expected else {
                return Self.json(#"{"error":"invalid_client"}"#, status: .unauthorized)
            }
            let code = form["code"] ?? ""
            let grant = self.state.withLock { $0.grants.removeValue(forKey: code) }
            guard let grant, form["grant_type"] == "authorization_code",
                Base64URL.encode(SecureHash.sha256(Array((form["code_verifier"] ?? "").utf8))) == grant.challenge
            else {
                return Self.json(#"{"error":"invalid_grant","error_description":"code \#(code) is not valid"}"#, status: .badRequest)
            }
            return Self.json(#"{"access_token":"at","token_type":"Bearer","id_token":"\#(grant.idToken)"}"#)
        }
        return router
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Runs the provider on a free port of 127.0.0.1 while `body` runs with it.
    func run<Result: Sendable>(_ body: @Sendable () async throws -> Result) async throws -> Result {
        try await serveOnLoopback(router(), label: "fake-oidc") { port in
            state.withLock { $0.issuer = "http://127.0.0.1:\(port)" }
            return try await body()
        }
    }
}
