public import SecurityCore

/// The sign-in portal for people at a browser (Docs/SIGN_IN.md): its pages under `/auth/`, its
/// session cookie, and where a browser may be sent back to.
///
/// The defaults suit one dashboard behind one proxy host: the cookie is `__Host-` for that host,
/// a session ends after 30 idle minutes and after 12 hours whatever happens.
public struct PortalConfiguration: Sendable, Equatable {
    /// The page title and the heading of every portal page.
    public var title: String
    /// The short text shown as the logo (no image is loaded: the pages have no third-party assets).
    public var logoText: String
    /// The portal's public URL (`https://auth.example.com`), where browsers are sent to sign in;
    /// `nil` sends them to `/auth/sign-in` on the host they asked for (the proxy passes `/auth/`
    /// to AgentHost on every protected host).
    public var publicURL: String?
    /// Where a browser goes after signing in when it brings no return URL, or one that is refused;
    /// `nil` for the portal's own "your sessions" page.
    public var homeURL: String?
    /// Hosts a browser may return to after signing in, besides those under ``cookieDomain``.
    public var protectedHosts: [String]
    /// A domain whose hosts share one session cookie (`__Secure-…; Domain=`), for single sign-on
    /// across sibling hosts; `nil` keeps the cookie to one host (`__Host-…`).
    public var cookieDomain: String?
    /// How long a session may go unused before it ends.
    public var idleTimeout: Duration
    /// How long a session lasts at most, used or not.
    public var lifetime: Duration
    /// Roles that must sign in with a second factor (TOTP), setting one up at their next sign-in
    /// if they have none.
    public var secondFactorRoles: [String] = []
    /// Whether the sign-in page has the password form; off leaves only the single sign-on
    /// providers' buttons (and password sign-in is refused).
    public var passwordSignIn = true

    /// The cookie's name without its prefix.
    public static let cookieBaseName = "agenthost_session"
    /// The short-lived cookie that binds a sign-in form to its browser.
    public static let signInCookieBaseName = "agenthost_signin"
    /// How long a sign-in form stays usable.
    public static let signInLifetime: Int64 = 15 * 60
    /// The cookie that carries a sign-in between the password and the second factor.
    static let pendingCookie = SessionCookie(hostOnly: "agenthost_pending")
    /// How long a person has for the second factor once the password is right.
    public static let pendingLifetime: Int64 = 5 * 60
    /// The longest a session may last: 30 days.
    public static let longestLifetime = Duration.seconds(30 * 86_400)

    public init(
        title: String = "AgentHost", logoText: String = "AgentHost", publicURL: String? = nil, homeURL: String? = nil,
        protectedHosts: [String] = [], cookieDomain: String? = nil, idleTimeout: Duration = .seconds(30 * 60),
        lifetime: Duration = .seconds(12 * 3_600)
    ) {
        self.title = title
        self.logoText = logoText
        self.publicURL = publicURL
        self.homeURL = homeURL
        self.protectedHosts = protectedHosts
        self.cookieDomain = cookieDomain
        self.idleTimeout = idleTimeout
        self.lifetime = lifetime
    }

    /// The session cookie these settings name. Throws ``AgentHostError`` for a `cookie_domain`
    /// that is an IP address or a single label.
    public func sessionCookie() throws -> SessionCookie {
        do {
            return try SessionCookie(baseName: Self.cookieBaseName, domain: cookieDomain)
        } catch {
            throw AgentHostError(.configuration, "cookie_domain: \(error.reason)")
        }
    }

    /// The cookie that carries a sign-in form's binding: always for the portal's own host.
    static let signInCookie = SessionCookie(hostOnly: signInCookieBaseName)

    /// Refuses settings that cannot work: a bad cookie domain, lifetimes out of range, a public or
    /// home URL that is not an absolute http(s) URL, a protected host that is not a host name.
    public func validate() throws {
        _ = try sessionCookie()
        guard idleTimeout > .zero, lifetime > .zero, idleTimeout <= lifetime else {
            throw AgentHostError(.configuration, "session_idle_timeout and session_lifetime must be positive, the idle timeout no longer")
        }
        guard lifetime <= Self.longestLifetime else {
            throw AgentHostError(.configuration, "session_lifetime may be at most 30d")
        }
        for (name, url) in [("portal_url", publicURL), ("home_url", homeURL)] {
            guard let url else { continue }
            guard Self.isOrigin(url) || (name == "home_url" && Self.isAbsoluteURL(url)) else {
                throw AgentHostError(
                    .configuration,
                    name == "portal_url"
                        ? "portal_url must be an origin such as https://auth.example.com (no path)"
                        : "home_url must be an absolute http:// or https:// URL")
            }
        }
        for host in protectedHosts {
            guard Self.isHost(host) else {
                throw AgentHostError(
                    .configuration,
                    "protected_host '\(host.prefix(64))' is not a host name or address such as app.example.com (no scheme or port)")
            }
        }
        guard (1...120).contains(title.count), (1...60).contains(logoText.count) else {
            throw AgentHostError(.configuration, "portal_title is 1-120 characters and portal_logo_text 1-60")
        }
    }

    /// A host name (labels of `a-z 0-9 -`, any case) or an IP address, without scheme or port.
    static func isHost(_ text: String) -> Bool {
        if IPAddress(text) != nil { return true }
        let labels = text.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        return text.utf8.count <= 253
            && labels.allSatisfy { label in
                (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            }
    }

    /// `scheme://host[:port]` with nothing after it.
    static func isOrigin(_ text: String) -> Bool {
        guard isAbsoluteURL(text) else { return false }
        let rest = text.drop { $0 != ":" }.dropFirst(3)
        return !rest.isEmpty && !rest.contains("/") && !rest.contains("?") && !rest.contains("#") && !rest.contains("@")
    }

    static func isAbsoluteURL(_ text: String) -> Bool {
        (text.hasPrefix("https://") || text.hasPrefix("http://")) && text.utf8.count <= 2048
            && !text.utf8.contains { $0 < 0x21 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }
    }
}
