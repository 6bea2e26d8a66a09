import Foundation
import SecurityCore

/// One sign-in at a provider, between the button and the callback, held by the browser that
/// began it in a cookie (`__Host-agenthost_oidc`) sealed with AES-256-GCM under a key derived from
/// the primary token key: the provider, `state`, `nonce`, the PKCE verifier, the return URL, and,
/// when a signed-in user links a provider, their name. The browser can neither read the verifier
/// nor change anything; another browser does not have the cookie, so a callback it is lured to
/// (login CSRF) finds no sign-in to finish.
struct OIDCFlow: Codable, Equatable, Sendable {
    let provider: String
    let state: String
    let nonce: String
    let verifier: String
    let returnURL: String
    /// The callback URL sent to the provider, sent again with the code.
    let redirectURI: String
    /// The signed-in user who is linking this provider; `nil` for a sign-in.
    let link: String?
    /// Unix seconds after which the callback is refused.
    let expires: Int64

    /// The cookie that carries it, for the portal's own host (`SameSite=Lax`: the provider sends
    /// the browser back with a top-level `GET`, which carries it).
    static let cookie = SessionCookie(hostOnly: "agenthost_oidc")
    /// HKDF's info for the flow key.
    private static let info = Array("agenthost/oidc-flow/v1".utf8)
    private static let associatedData = Array("agenthost-oidc-flow".utf8)

    /// The key that seals flows, from the primary token key's secret.
    static func key(from secret: SecureBytes) throws -> AESGCMKey {
        try AESGCMKey(HKDF.deriveKey(from: secret, salt: [UInt8](), info: info, count: 32))
    }

    /// The cookie's value.
    func sealed(with key: AESGCMKey) throws -> String {
        Base64URL.encode(try key.seal(try JSONEncoder().encode(self), authenticating: Self.associatedData).combined)
    }

    /// The flow in a cookie's value; `nil` for anything this server did not seal, or that has
    /// expired at `now`.
    static func opened(_ text: Substring, with key: AESGCMKey, now: Int64) -> OIDCFlow? {
        guard text.utf8.count <= 4096, let bytes = Base64URL.decode(text),
            let box = try? SealedBox(combined: bytes, nonceByteCount: AESGCMKey.nonceByteCount, tagByteCount: AESGCMKey.tagByteCount),
            let plain = try? key.open(box, authenticating: associatedData),
            let flow = try? JSONDecoder().decode(OIDCFlow.self, from: Data(Array(plain))), now < flow.expires
        else { return nil }
        return flow
    }
}
