/// The name and attributes of a browser session cookie, and the `Set-Cookie` values that set and
/// clear it.
///
/// Every cookie it writes is `HttpOnly` (no script reads it), `Secure` (never sent over plain
/// HTTP, except to a loopback host, which browsers treat as secure), `SameSite=Lax` (not sent
/// with a cross-site `POST`, a frame or a fetch) and `Path=/`. Its name carries a prefix the
/// browser enforces:
/// - without a domain, `__Host-…`: the browser keeps it for the exact host that set it, and no
///   sibling subdomain can set or shadow it;
/// - with a domain (single sign-on over sibling hosts), `__Secure-…` and `Domain=`: sent to the
///   domain and every host under it. The domain must be a name of two labels or more, never an IP
///   address (``checkDomain(_:)``).
///
/// ```swift
/// let cookie = try SessionCookie(baseName: "agenthost_session", domain: nil)
/// response.headers.append("Set-Cookie", cookie.setting(token, maxAge: 43_200))
/// ```
public struct SessionCookie: Sendable, Hashable {
    /// The cookie's name: the base name with its `__Host-` or `__Secure-` prefix.
    public let name: String
    /// The domain the cookie covers (lower case, no leading dot), or `nil` for the exact host.
    public let domain: String?

    /// A cookie named `baseName` (1-64 of `A-Z a-z 0-9 _ -`) for the exact host, or for `domain`
    /// and its subdomains. Throws ``BrowserError`` with ``BrowserError/Code/invalidCookieDomain``
    /// for a domain ``checkDomain(_:)`` refuses.
    public init(baseName: String, domain: String? = nil) throws(BrowserError) {
        Self.checkBaseName(baseName)
        if let domain {
            self.init(name: "__Secure-" + baseName, domain: try Self.checkDomain(domain))
        } else {
            self.init(name: "__Host-" + baseName, domain: nil)
        }
    }

    /// A cookie named `__Host-` + `baseName`, for the exact host that sets it.
    public init(hostOnly baseName: String) {
        Self.checkBaseName(baseName)
        self.init(name: "__Host-" + baseName, domain: nil)
    }

    private init(name: String, domain: String?) {
        self.name = name
        self.domain = domain
    }

    private static func checkBaseName(_ baseName: String) {
        precondition(
            (1...64).contains(baseName.utf8.count) && baseName.utf8.allSatisfy(IdentifierRule.isAllowed),
            "a cookie's base name is 1-64 of A-Z a-z 0-9 _ -")
    }

    /// The `Set-Cookie` value that sets the cookie to `value` for `maxAge` seconds, or for the
    /// browser's session when `maxAge` is `nil`. `value` must be cookie-safe (base64url and `.`).
    public func setting(_ value: String, maxAge: Int64?) -> String {
        precondition(value.utf8.allSatisfy { CredentialKind.isBodyByte($0, allowsDot: true) }, "a cookie value is base64url and .")
        var text = name + "=" + value + "; Path=/"
        if let domain { text += "; Domain=" + domain }
        if let maxAge { text += "; Max-Age=\(max(0, maxAge))" }
        return text + "; Secure; HttpOnly; SameSite=Lax"
    }

    /// The `Set-Cookie` value that makes the browser drop the cookie.
    public func clearing() -> String {
        setting("", maxAge: 0)
    }

    /// `domain` in lower case without a leading dot, if it can carry a cookie for sibling hosts:
    /// host-name labels of `a-z 0-9 -` (1-63 each, no `-` at either end), two labels at least
    /// (`example.com`, never `com` or `localhost`), and not an IP address. Throws otherwise.
    public static func checkDomain(_ domain: String) throws(BrowserError) -> String {
        var lower = domain.lowercased()
        if lower.hasPrefix(".") { lower.removeFirst() }
        if lower.hasSuffix(".") { lower.removeLast() }
        guard IPAddress(lower) == nil, !lower.hasPrefix("["), !lower.isEmpty, lower.utf8.count <= 253 else {
            throw BrowserError(.invalidCookieDomain, "cookie_domain must be a domain name such as example.com, not an IP address")
        }
        let labels = lower.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else {
            throw BrowserError(
                .invalidCookieDomain, "cookie_domain must have two labels at least (example.com): a single label covers unrelated hosts")
        }
        for label in labels {
            let bytes = Array(label.utf8)
            guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-"),
                bytes.allSatisfy({
                    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                        || $0 == UInt8(ascii: "-")
                })
            else {
                throw BrowserError(.invalidCookieDomain, "cookie_domain must be a host name of a-z 0-9 - labels, such as example.com")
            }
        }
        guard labels.last?.allSatisfy(\.isNumber) == false else {
            throw BrowserError(.invalidCookieDomain, "cookie_domain must be a domain name such as example.com, not an IP address")
        }
        return lower
    }
}
