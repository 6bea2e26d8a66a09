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
    /// What the sealed value is, bound in as associated data.
    private static let kind = "agenthost-oidc-flow"

    /// The key that seals the portal's flow cookies (this one and a passkey's ceremony), from the
    /// primary token key's secret.
    static func key(from secret: SecureBytes) throws -> AESGCMKey {
        try AESGCMKey(HKDF.deriveKey(from: secret, salt: [UInt8](), info: info, count: 32))
    }

    /// The cookie's value.
    func sealed(with key: AESGCMKey) throws -> String {
        try SealedCookieValue.seal(self, with: key, kind: Self.kind)
    }

    /// The flow in a cookie's value; `nil` for anything this server did not seal, or that has
    /// expired at `now`.
    static func opened(_ text: Substring, with key: AESGCMKey, now: Int64) -> OIDCFlow? {
        guard let flow = SealedCookieValue.open(text, as: OIDCFlow.self, with: key, kind: kind), now < flow.expires else { return nil }
        return flow
    }
}
