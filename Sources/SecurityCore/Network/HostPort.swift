/// A host and a port, as an egress allow-list names them and `CONNECT` asks for them:
/// `pypi.org:443`, `127.0.0.1:8443`, `[::1]:9`.
///
/// The host is a DNS name (lower-cased, labels of letters, digits and `-`) or an IP literal (an
/// IPv6 one in brackets); anything else is refused, so two spellings of one host compare equal
/// and nothing ambiguous (`::1:443`) is read as a guess.
///
/// ```swift
/// HostPort("PyPI.org", defaultPort: 443)?.description  // "pypi.org:443"
/// ```
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    /// The host: lower case, an IPv6 literal without its brackets.
    public let host: String
    /// The port, 1-65535.
    public let port: Int

    /// Parses `host:port` or `[v6]:port`, or a bare host when `defaultPort` is given; `nil` for
    /// anything else.
    public init?(_ text: some StringProtocol, defaultPort: Int? = nil) {
        let lowered = text.lowercased()
        var host = lowered
        var port = defaultPort
        if lowered.hasPrefix("[") {
            guard let close = lowered.firstIndex(of: "]") else { return nil }
            host = String(lowered[lowered.index(after: lowered.startIndex)..<close])
            let rest = lowered[lowered.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { return nil }
                port = number
            }
            guard host.contains(":"), IPAddress(host) != nil else { return nil }
        } else if let colon = lowered.lastIndex(of: ":") {
            host = String(lowered[..<colon])
            guard !host.contains(":"), let number = Int(lowered[lowered.index(after: colon)...]) else { return nil }
            port = number
        }
        guard let port, (1...65535).contains(port), !host.isEmpty else { return nil }
        guard host.contains(":") || IPAddress(host) != nil || Self.isDNSName(host) else { return nil }
        self.host = host
        self.port = port
    }

    /// Whether the host is an IP literal rather than a name.
    public var isIPLiteral: Bool { IPAddress(host) != nil }

    /// `host:port`, an IPv6 host in brackets.
    public var description: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }

    /// Whether `text` is a DNS name: at most 253 bytes of 1-63-byte labels of `a-z`, `0-9` and an
    /// inner `-`, separated by dots.
    static func isDNSName(_ text: String) -> Bool {
        text.utf8.count <= 253
            && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { byte in
                        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                            || byte == UInt8(ascii: "-")
                    }
            }
    }
}
