/// An IPv4 or IPv6 address, parsed strictly and compared by value.
///
/// IPv4 addresses are held as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so `10.0.0.1` and
/// `::ffff:10.0.0.1` are the same address, the same rate-limit key and match the same networks.
/// Parsing refuses anything ambiguous: leading zeros in IPv4 parts (which some parsers read as
/// octal), zone ids, more than one `::`, empty or oversized groups.
///
/// ```swift
/// let address = try #require(IPAddress("2001:db8::1"))
/// address.description  // "2001:db8::1"
/// ```
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 16 bytes of the IPv6 (or IPv4-mapped) form, most significant first.
    public let high: UInt64
    public let low: UInt64

    private static let mappedPrefix: UInt64 = 0x0000_FFFF_0000_0000

    /// Builds an address from its two 64-bit halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value.
    public init(ipv4 value: UInt32) {
        self.init(high: 0, low: Self.mappedPrefix | UInt64(value))
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (without brackets, port or zone); `nil` if
    /// `text` is anything else.
    public init?(_ text: some StringProtocol) {
        // The common case, a dotted quad, is read straight from the text's bytes.
        if let value = Self.parseIPv4(text.utf8) {
            self.init(ipv4: value)
            return
        }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 45, bytes.contains(UInt8(ascii: ":")),
            let (high, low) = Self.parseIPv6(bytes)
        else { return nil }
        self.init(high: high, low: low)
    }

    /// Whether this is an IPv4 address (or its IPv4-mapped IPv6 form).
    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// Whether this is a loopback address: `127.0.0.0/8` or `::1`.
    public var isLoopback: Bool {
        if isIPv4 { return (low >> 24) & 0xFF == 127 }
        return high == 0 && low == 1
    }

    /// Whether this is an address of the public Internet: not loopback, unspecified, private
    /// (RFC 1918, unique local `fc00::/7`), shared (`100.64.0.0/10`), link-local (`169.254.0.0/16`,
    /// which holds cloud metadata services, and `fe80::/10`), multicast, broadcast, reserved, or
    /// an IPv6 form that embeds IPv4 (NAT64, 6to4, Teredo) or a documentation range. What an
    /// egress filter lets a name resolve to.
    public var isGlobal: Bool {
        !Self.nonGlobal.contains { $0.contains(self) }
    }

    /// The ranges ``isGlobal`` refuses (IANA's special-purpose registries, IPv4 and IPv6).
    static let nonGlobal: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32",
        "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap { IPNetwork($0) }

    /// The canonical text: dotted quad for IPv4, RFC 5952 form for IPv6.
    public var description: String {
        if isIPv4 {
            // Written byte by byte, then made a small string (at most 15 bytes, stored inline):
            // 65 ns, where appending to a string scalar by scalar took 190. This is the rate
            // limiter's key for every request.
            let value = UInt32(truncatingIfNeeded: low)
            var text = [UInt8]()
            text.reserveCapacity(15)
            for shift in [24, 16, 8, 0] as [UInt32] {
                let octet = UInt8(truncatingIfNeeded: value >> shift)
                if shift != 24 { text.append(UInt8(ascii: ".")) }
                if octet >= 100 { text.append(0x30 + octet / 100) }
                if octet >= 10 { text.append(0x30 + octet / 10 % 10) }
                text.append(0x30 + octet % 10)
            }
            return String(decoding: text, as: UTF8.self)
        }
        var groups = [UInt16]()
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift))) }
        // RFC 5952: compress the longest run of two or more zero groups, the first if tied.
        var bestStart = -1, bestLength = 1, runStart = -1
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength {
                    bestStart = runStart
                    bestLength = index - runStart
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    // MARK: Parsing

    /// A dotted quad without leading zeros, in one pass; `nil` for anything else. The one IPv4
    /// parser: for a whole address and for the last groups of an IPv6 one.
    private static func parseIPv4(_ bytes: some Collection<UInt8>) -> UInt32? {
        guard bytes.count >= 7, bytes.count <= 15 else { return nil }
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
                dots += 1
            } else if byte >= 0x30, byte <= 0x39 {
                guard digits < 3, digits == 0 || part != 0 else { return nil }
                part = part * 10 + UInt32(byte - 0x30)
                guard part <= 255 else { return nil }
                digits += 1
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | part
    }

    private static func parseIPv6(_ bytes: [UInt8]) -> (UInt64, UInt64)? {
        var head = [UInt16](), tail = [UInt16]()
        var sawGap = false
        // Split on "::" at most once.
        var pieces: [ArraySlice<UInt8>]
        if let gap = findDoubleColon(bytes) {
            sawGap = true
            guard findDoubleColon(Array(bytes[(gap + 2)...])) == nil else { return nil }
            pieces = [bytes[..<gap], bytes[(gap + 2)...]]
        } else {
            pieces = [bytes[...]]
        }
        for (pieceIndex, piece) in pieces.enumerated() {
            guard !piece.isEmpty else { continue }
            let groups = piece.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            var parsed = [UInt16]()
            for (groupIndex, group) in groups.enumerated() {
                let isLast = pieceIndex == pieces.count - 1 && groupIndex == groups.count - 1
                if isLast, group.contains(UInt8(ascii: ".")) {
                    guard let value = parseIPv4(group) else { return nil }
                    parsed.append(UInt16(value >> 16))
                    parsed.append(UInt16(value & 0xFFFF))
                    continue
                }
                guard !group.isEmpty, group.count <= 4 else { return nil }
                var value: UInt16 = 0
                for byte in group {
                    guard let digit = Hex.value(of: byte) else { return nil }
                    value = value << 4 | UInt16(digit)
                }
                parsed.append(value)
            }
            if pieceIndex == 0 { head = parsed } else { tail = parsed }
        }
        let count = head.count + tail.count
        if sawGap {
            guard count <= 7 else { return nil }
        } else {
            guard count == 8 else { return nil }
        }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        var high: UInt64 = 0, low: UInt64 = 0
        for index in 0..<4 { high = high << 16 | UInt64(groups[index]) }
        for index in 4..<8 { low = low << 16 | UInt64(groups[index]) }
        return (high, low)
    }

    private static func findDoubleColon(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == UInt8(ascii: ":") && bytes[index + 1] == UInt8(ascii: ":") {
            return index
        }
        return nil
    }
}
