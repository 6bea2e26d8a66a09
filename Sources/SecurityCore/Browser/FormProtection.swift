/// The tokens that tie a portal form to the browser that was shown it: the CSRF token, and the
/// seal that binds a return URL to the sign-in that carries it.
///
/// Each is an HMAC-SHA256 over length-prefixed fields (a purpose, the browser's binding, and for
/// the seal the return URL), under a key derived from a server secret with HKDF (info
/// `agenthost/browser-forms/v1`), so every server that shares the secret checks what another
/// issued. The binding is what the browser alone holds: a random value in a short-lived cookie
/// before sign-in (``newBinding()``), the session's id after.
///
/// - A cross-site page cannot read the binding (the cookie is `HttpOnly`) and so cannot compute
///   the CSRF token a form must carry.
/// - A return URL changed between the first page and the last no longer matches its seal (the
///   swap pocket-id #419 reported).
///
/// ```swift
/// let forms = try FormProtection(secret: primaryKey.secret)
/// let binding = FormProtection.newBinding()           // set in a cookie
/// let csrf = forms.csrfToken(for: binding)            // a hidden field
/// guard forms.checkCSRF(form["csrf"], for: binding) else { refuse() }
/// ```
public struct FormProtection: Sendable {
    private let key: HMACSHA256Key

    /// HKDF's info for the form key.
    static let info = Array("agenthost/browser-forms/v1".utf8)

    /// Derives the form key from `secret` (at least 32 bytes).
    public init(secret: SecureBytes) throws {
        precondition(secret.count >= 32, "a form key is derived from 32 bytes of secret at least")
        key = HMACSHA256Key(try HKDF.deriveKey(from: secret, salt: [UInt8](), info: Self.info, count: 32))
    }

    /// A new random binding for a browser that has no session yet: 16 bytes, base64url.
    public static func newBinding() -> String {
        SecureBytes.random(count: 16).base64URLEncoded()
    }

    /// The CSRF token a form shown to the browser holding `binding` carries.
    public func csrfToken(for binding: String) -> String {
        Base64URL.encode(mac(["csrf", binding]))
    }

    /// Whether `token` is the CSRF token for `binding`, compared in constant time.
    public func checkCSRF(_ token: String?, for binding: String) -> Bool {
        guard let token, let presented = Base64URL.decode(token) else { return false }
        return ConstantTime.equals(mac(["csrf", binding]), presented)
    }

    /// The seal that binds `returnURL` to the sign-in of the browser holding `binding`.
    public func seal(returnURL: String, for binding: String) -> String {
        Base64URL.encode(mac(["return", binding, returnURL]))
    }

    /// Whether `seal` binds `returnURL` to `binding`, compared in constant time.
    public func checkSeal(_ seal: String?, returnURL: String, for binding: String) -> Bool {
        guard let seal, let presented = Base64URL.decode(seal) else { return false }
        return ConstantTime.equals(mac(["return", binding, returnURL]), presented)
    }

    /// HMAC over each field as a 4-byte big-endian length and its UTF-8 bytes.
    private func mac(_ fields: [String]) -> [UInt8] {
        var message = [UInt8]()
        for field in fields {
            let count = field.utf8.count
            message += [
                UInt8(truncatingIfNeeded: count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
                UInt8(truncatingIfNeeded: count),
            ]
            message += field.utf8
        }
        return key.authenticationCode(for: message)
    }
}
