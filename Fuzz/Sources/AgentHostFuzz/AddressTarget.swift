import Foundation
import SecurityCore

/// `IPAddress`, `IPNetwork` and `ClientAddressResolver` with `X-Forwarded-For` and `Forwarded`.
///
/// Properties:
/// - differential with the C library's `inet_pton`: an address parses here exactly when
///   `inet_pton` reads it, to the same bytes (IPv4 also as its IPv4-mapped IPv6 form);
/// - an address prints to a canonical text that parses back to it; a network contains its own
///   address and prints to text that parses back to it;
/// - the client address is the socket peer, or an address written in a forwarding header: never
///   one made up, and never one a client chose when the peer is not a trusted proxy;
/// - a client is local only from a loopback peer that is not a trusted proxy and sends no
///   forwarding header.
enum AddressTarget {
    static let resolver = ClientAddressResolver(
        trustedProxies: ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"].compactMap { IPNetwork($0) })

    static func run(_ input: inout FuzzInput) {
        let first = input.chunk(until: UInt8(ascii: "\n")).text
        checkAddress(first)
        checkNetwork(first)
        var headers = [HeaderField]()
        let names = ["X-Forwarded-For", "Forwarded", "x-forwarded-for", "FORWARDED", "X-Real-IP", "X-Forwarded-Proto"]
        while true {
            let line = input.chunk(until: UInt8(ascii: "\n"))
            if line.isEmpty { break }
            headers.append(HeaderField(name: names[Int(line[0]) % names.count], value: Array(line.dropFirst()).text))
        }
        checkResolver(peer: first, headers: headers)
    }

    static func checkAddress(_ text: String) {
        let ours = IPAddress(text)
        // inet_pton reads a C string: it would stop at a NUL that IPAddress sees.
        guard !text.utf8.contains(0) else { return require(ours == nil, "an address with a NUL in it") }
        let theirs = pton(text)
        require(ours?.high == theirs?.high && ours?.low == theirs?.low, "inet_pton reads \(text) otherwise")
        if let ours {
            require(IPAddress(ours.description) == ours, "\(ours) does not parse back")
            require(IPAddress(ours.description)?.description == ours.description, "\(ours) is not canonical")
        }
    }

    static func checkNetwork(_ text: String) {
        guard let network = IPNetwork(text) else { return }
        require(network.contains(network.address), "\(network) does not contain its own address")
        require(IPNetwork(network.description) == network, "\(network) does not parse back")
    }

    static func checkResolver(peer: String, headers: [HeaderField]) {
        let resolved = resolver.clientAddress(peer: peer, headers: headers)
        let peerAddress = nodeAddress(peer[...])
        if peerAddress == nil {
            require(resolved == nil, "a client address without a peer")
            return
        }
        guard let resolved, let peerAddress else { return require(false, "no client address for peer \(peer)") }
        if !resolver.isTrustedProxy(peerAddress) {
            require(resolved == peerAddress, "an untrusted peer's headers were believed")
        } else {
            let written = Set(
                headers.filter { ["x-forwarded-for", "forwarded"].contains($0.name.lowercased()) }.flatMap { candidates($0.value) })
            require(resolved == peerAddress || written.contains(resolved), "\(resolved) is neither the peer nor written in a header")
        }
        if resolver.isLocal(peer: peer, headers: headers) {
            require(peerAddress.isLoopback && !resolver.isTrustedProxy(peerAddress), "local from \(peer)")
            let forwarding = headers.contains {
                ["forwarded", "x-real-ip"].contains($0.name.lowercased()) || $0.name.lowercased().hasPrefix("x-forwarded-")
            }
            require(!forwarding, "local with a forwarding header")
        }
    }

    /// The address of a peer written `address`, `[v6]`, `[v6]:port` or `v4:port`.
    static func nodeAddress(_ text: Substring) -> IPAddress? {
        if let address = IPAddress(text) { return address }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let port = text[text.index(after: close)...]
            guard port.isEmpty || (port.first == ":" && port.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }) else { return nil }
            return IPAddress(text[text.index(after: text.startIndex)..<close])
        }
        guard text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") else { return nil }
        return IPAddress(text[..<colon])
    }

    /// Every address that can be read out of `text`: pieces between characters that cannot be
    /// part of one, with brackets and a port taken off.
    static func candidates(_ text: String) -> [IPAddress] {
        let pieces = text.split { !($0.isHexDigit || $0 == "." || $0 == ":" || $0 == "[" || $0 == "]") }
        var found = [IPAddress]()
        for piece in pieces {
            var forms = [piece]
            if piece.hasPrefix("["), let close = piece.firstIndex(of: "]") {
                forms.append(piece[piece.index(after: piece.startIndex)..<close])
            }
            if piece.filter({ $0 == ":" }).count == 1, let colon = piece.firstIndex(of: ":") { forms.append(piece[..<colon]) }
            found += forms.compactMap { IPAddress($0) }
        }
        return found
    }

    /// The C library's reading of `text`, as IPv6 (IPv4 mapped).
    static func pton(_ text: String) -> (high: UInt64, low: UInt64)? {
        var bytes = [UInt8](repeating: 0, count: 16)
        if !text.contains(":") {
            var v4 = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + v4
        } else {
            guard inet_pton(AF_INET6, text, &bytes) == 1 else { return nil }
        }
        let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (high, low)
    }
}
