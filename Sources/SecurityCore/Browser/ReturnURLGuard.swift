/// Where a browser may be sent back to after signing in: the guard against open redirects.
///
/// A return URL is accepted only when it is an absolute `https:` URL (or `http:` to a loopback
/// host), with no user info, no backslash, no control character, space or percent sign in its
/// authority, no `//` after it, and a host that is one of `protectedHosts` or lies under
/// `cookieDomain` on a dot boundary (`app.example.com` under `example.com`, never
/// `app.example.com.evil.example` or `notexample.com`). Anything else gives `home`.
///
/// ```swift
/// let guard = ReturnURLGuard(protectedHosts: ["app.example.com"], cookieDomain: nil, home: "https://app.example.com/")
/// response.redirect(to: guard.destination(for: query["rd"]))
/// ```
public struct ReturnURLGuard: Sendable {
    /// Hosts a browser may return to, lower case.
    public let protectedHosts: Set<String>
    /// A domain whose subdomains (and itself) may be returned to, lower case, or `nil`.
    public let cookieDomain: String?
    /// Where a refused or missing return URL goes.
    public let home: String

    /// The longest return URL accepted, in bytes.
    public static let maximumLength = 2048

    public init(protectedHosts: [String], cookieDomain: String?, home: String) {
        self.protectedHosts = Set(protectedHosts.map { $0.lowercased() })
        self.cookieDomain = cookieDomain.map { $0.lowercased() }
        self.home = home
    }

    /// `candidate` when ``isAllowed(_:)`` says so, otherwise ``home``.
    public func destination(for candidate: String?) -> String {
        guard let candidate, isAllowed(candidate) else { return home }
        return candidate
    }

    /// Whether a browser may be sent to `candidate`.
    public func isAllowed(_ candidate: String) -> Bool {
        let bytes = Array(candidate.utf8)
        guard bytes.count <= Self.maximumLength,
            !bytes.contains(where: { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: "\\") || $0 >= 0x80 })
        else { return false }
        let lower = bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        let secure: Bool
        let authorityStart: Int
        if lower.starts(with: Array("https://".utf8)) {
            secure = true
            authorityStart = 8
        } else if lower.starts(with: Array("http://".utf8)) {
            secure = false
            authorityStart = 7
        } else {
            return false
        }
        let rest = lower[authorityStart...]
        let authorityEnd =
            rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) ?? lower.endIndex
        let authority = lower[authorityStart..<authorityEnd]
        // User info, escapes in the host, and a second `//` that some parsers read as a new authority.
        guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")), !authority.contains(UInt8(ascii: "%")),
            !containsDoubleSlash(lower[authorityEnd...])
        else { return false }
        guard let host = Self.host(of: authority) else { return false }
        if !secure, !Self.isLoopback(host) { return false }
        return isAllowedHost(host)
    }

    /// Whether `path` (what follows the authority) holds `//` before its query or fragment.
    private func containsDoubleSlash(_ path: ArraySlice<UInt8>) -> Bool {
        var previous: UInt8 = 0
        for byte in path {
            if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { return false }
            if byte == UInt8(ascii: "/"), previous == UInt8(ascii: "/") { return true }
            previous = byte
        }
        return false
    }

    /// Whether `host` is a protected host or lies under the cookie domain.
    func isAllowedHost(_ host: String) -> Bool {
        if protectedHosts.contains(host) { return true }
        guard let cookieDomain, !cookieDomain.isEmpty else { return false }
        return host == cookieDomain || host.hasSuffix("." + cookieDomain)
    }

    /// The host of `host[:port]` or `[v6][:port]`, lower case; `nil` for an empty host, a port
    /// that is not digits, a trailing dot, or a character a host name cannot have.
    static func host(of authority: ArraySlice<UInt8>) -> String? {
        var hostPart = authority
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostPart = authority[authority.startIndex...close]
            let after = authority[(close + 1)...]
            guard after.isEmpty || isPort(after) else { return nil }
            guard hostPart.dropFirst().dropLast().allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return nil }
        } else {
            if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
                guard isPort(authority[colon...]) else { return nil }
                hostPart = authority[..<colon]
            }
            guard !hostPart.isEmpty, hostPart.last != UInt8(ascii: "."), hostPart.first != UInt8(ascii: "."),
                hostPart.allSatisfy({ isHostByte($0) })
            else { return nil }
        }
        return String(decoding: hostPart, as: UTF8.self)
    }

    /// `:` and one to five digits.
    private static func isPort(_ text: ArraySlice<UInt8>) -> Bool {
        text.first == UInt8(ascii: ":") && (2...6).contains(text.count)
            && text.dropFirst().allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    private static func isHostByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "[::1]" || (host.hasPrefix("127.") && IPAddress(host)?.isLoopback == true)
    }
}
