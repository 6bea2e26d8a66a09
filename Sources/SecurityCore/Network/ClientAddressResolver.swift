public import HTTPTypes

/// Finds the address a request really came from, for rate limits, and whether it came from this
/// machine itself, for local-only rules.
///
/// The socket peer is the answer unless the peer is a configured trusted proxy. Only then are
/// `Forwarded` (RFC 7239, preferred when present) or `X-Forwarded-For` read, from the right: each
/// trusted proxy appends the address it saw, so the right-most address that is not itself a trusted
/// proxy is the client. Without trusted proxies, forwarding headers change nothing, whatever a
/// client writes into them.
///
/// ```swift
/// let resolver = ClientAddressResolver(trustedProxies: [IPNetwork("10.0.0.0/8")!])
/// resolver.clientAddress(peer: "10.0.0.5", fields: [HTTPField.Name("X-Forwarded-For")!: "1.2.3.4"])
/// // 1.2.3.4
/// ```
public struct ClientAddressResolver: Sendable {
    /// Networks whose forwarding headers are believed.
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork] = []) {
        self.trustedProxies = trustedProxies
    }

    /// Whether `address` is one of the trusted proxies.
    public func isTrustedProxy(_ address: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// Whether the socket peer `peer` (an address, possibly with a port) is a trusted proxy, whose
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` may then be believed.
    public func isTrustedProxy(peer: String?) -> Bool {
        guard let peer, let address = Self.parseNode(peer[...]) else { return false }
        return isTrustedProxy(address)
    }

    /// Whether the request comes from this machine itself: the peer is a loopback address, it is
    /// not a trusted proxy, and the request carries no forwarding header (`Forwarded`,
    /// `X-Real-IP` or any `X-Forwarded-*`).
    ///
    /// This is the one meaning of "local" for every local-only rule: `/metrics` without a
    /// credential, onboarding without a setup token, and the policy's `loopback` condition. A
    /// proxy on the same host relays every client from a loopback address, configured as a
    /// trusted proxy or not, so neither such a peer nor a request that names another hop counts.
    public func isLocal(peer: String?, fields: HTTPFields) -> Bool {
        isLocal(peer: peer, names: fields.lazy.map(\.name.canonicalName))
    }

    /// ``isLocal(peer:fields:)`` for headers as plain name and value pairs.
    public func isLocal(peer: String?, headers: [HeaderField]) -> Bool {
        isLocal(peer: peer, names: headers.lazy.map(\.name))
    }

    private func isLocal(peer: String?, names: some Sequence<String>) -> Bool {
        guard let peer, let address = Self.parseNode(peer[...]), address.isLoopback, !isTrustedProxy(address) else {
            return false
        }
        return !names.contains { Self.isForwardingHeader($0) }
    }

    /// `Forwarded`, `X-Real-IP` or a name starting `X-Forwarded-`, in any case.
    static func isForwardingHeader(_ name: String) -> Bool {
        if name.utf8.count > 12, asciiCaseInsensitiveEquals(name.prefix(12), "x-forwarded-") { return true }
        return asciiCaseInsensitiveEquals(name, "forwarded") || asciiCaseInsensitiveEquals(name, "x-real-ip")
    }

    /// The client's address, or `nil` when the peer is unknown or unparsable.
    public func clientAddress(peer: String?, fields: HTTPFields) -> IPAddress? {
        clientAddress(peer: peer, pairs: fields.lazy.map { (name: $0.name.canonicalName, value: $0.value) })
    }

    /// ``clientAddress(peer:fields:)`` for headers as plain name and value pairs.
    public func clientAddress(peer: String?, headers: [HeaderField]) -> IPAddress? {
        clientAddress(peer: peer, pairs: headers.lazy.map { (name: $0.name, value: $0.value) })
    }

    private func clientAddress(peer: String?, pairs: some Sequence<(name: String, value: String)>) -> IPAddress? {
        guard let peer, let peerAddress = Self.parseNode(peer[...]) else { return nil }
        guard !trustedProxies.isEmpty, isTrustedProxy(peerAddress) else { return peerAddress }
        let chain = Self.forwardedChain(pairs) ?? Self.xForwardedForChain(pairs)
        var nearestTrusted = peerAddress
        for entry in chain.reversed() {
            // An entry a trusted proxy wrote but that does not parse: stop at the last proxy that
            // is known, rather than let the client pick a key.
            guard let address = entry else { return nearestTrusted }
            guard isTrustedProxy(address) else { return address }
            nearestTrusted = address
        }
        return nearestTrusted
    }

    /// `for=` values of every `Forwarded` header, in order; `nil` when there is no such header.
    static func forwardedChain(_ headers: some Sequence<(name: String, value: String)>) -> [IPAddress?]? {
        let values = headers.filter { asciiCaseInsensitiveEquals($0.name, "forwarded") }.map(\.value)
        guard !values.isEmpty else { return nil }
        var chain = [IPAddress?]()
        for value in values {
            for element in value.split(separator: ",") {
                var found: IPAddress?? = nil
                for pair in element.split(separator: ";") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, asciiCaseInsensitiveEquals(trimmed(parts[0]), "for") else { continue }
                    var node = trimmed(parts[1])
                    if node.hasPrefix("\""), node.hasSuffix("\""), node.count >= 2 {
                        node = node.dropFirst().dropLast()
                    }
                    found = .some(parseNode(node))
                }
                // An element without for= is a hop that did not say: treat it as unknown.
                chain.append(found ?? nil)
            }
        }
        return chain
    }

    /// Entries of every `X-Forwarded-For` header, in order.
    static func xForwardedForChain(_ headers: some Sequence<(name: String, value: String)>) -> [IPAddress?] {
        headers.filter { asciiCaseInsensitiveEquals($0.name, "x-forwarded-for") }.flatMap { field in
            field.value.split(separator: ",").map { parseNode(trimmed($0)) }
        }
    }

    /// An address with an optional port: `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, `::1`.
    static func parseNode(_ node: Substring) -> IPAddress? {
        IPAddress(stripPort(node) ?? node)
    }

    /// The address part of `[v6]:port`, `[v6]` or `v4:port`; `nil` when there is nothing to strip.
    static func stripPort(_ text: Substring) -> Substring? {
        // Bytes, not Characters: this runs on every request's peer address.
        let bytes = text.utf8
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let after = bytes[bytes.index(after: close)...]
            if let colon = after.first {
                guard colon == UInt8(ascii: ":"), after.dropFirst().allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
                else { return nil }
            }
            return Substring(bytes[bytes.index(after: bytes.startIndex)..<close])
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        // A second colon makes it IPv6 without brackets, with no port to strip.
        guard !bytes[bytes.index(after: colon)...].contains(UInt8(ascii: ":")) else { return nil }
        return Substring(bytes[..<colon])
    }

    static func trimmed(_ text: Substring) -> Substring {
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = text.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return "" }
        return text[first...last]
    }
}
