/// A CIDR block such as `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 or /128.
///
/// IPv4 networks match IPv4 addresses and their IPv4-mapped IPv6 forms alike. Host bits below the
/// prefix must be zero (`10.0.0.1/8` is refused as probably a typo).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the block.
    public let address: IPAddress
    /// The prefix length in IPv6 terms (an IPv4 /8 is stored as /104).
    let prefixLength: Int

    /// Parses `a.b.c.d/n`, `x:y::/n` or a bare address; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let width = address.isIPv4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy(\.isASCII), let value = Int(digits),
                value >= 0, value <= width, digits.count == 1 || digits.first != "0"
            else { return nil }
            length = value
        }
        let prefixLength = address.isIPv4 ? length + 96 : length
        let masked = Self.mask(address, prefixLength)
        guard masked == address else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `candidate` lies in this block.
    public func contains(_ candidate: IPAddress) -> Bool {
        Self.mask(candidate, prefixLength) == address
    }

    public var description: String {
        "\(address)/\(address.isIPv4 ? prefixLength - 96 : prefixLength)"
    }

    private static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        func bits(_ count: Int) -> UInt64 { count <= 0 ? 0 : count >= 64 ? .max : ~(UInt64.max >> UInt64(count)) }
        return IPAddress(high: address.high & bits(length), low: address.low & bits(length - 64))
    }
}
