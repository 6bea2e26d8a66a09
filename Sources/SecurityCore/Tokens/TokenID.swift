/// The random 128-bit id every token carries, used to revoke that one token.
///
/// Written as 32 lowercase hex digits. Not a secret: knowing it does not let anyone use the token.
public struct TokenID: Hashable, Sendable, CustomStringConvertible {
    /// The id's sixteen bytes, most significant first.
    public let high: UInt64
    public let low: UInt64

    /// The number of bytes in a token id.
    public static let byteCount = 16

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh random id.
    public static func random() throws -> TokenID {
        TokenID(bytes: try SecureRandom.bytes(count: byteCount)[...])
    }

    /// Reads sixteen bytes, most significant first.
    init(bytes: ArraySlice<UInt8>) {
        precondition(bytes.count == Self.byteCount, "a token id is 16 bytes")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for byte in bytes.prefix(8) { high = high << 8 | UInt64(byte) }
        for byte in bytes.dropFirst(8) { low = low << 8 | UInt64(byte) }
        self.init(high: high, low: low)
    }

    /// Parses 32 hex digits (either case); `nil` for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var values = [UInt64](repeating: 0, count: 2)
        for (index, digit) in digits.enumerated() {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            values[index / 16] = values[index / 16] << 4 | UInt64(nibble)
        }
        self.init(high: values[0], low: values[1])
    }

    /// The sixteen bytes, most significant first.
    var bytes: [UInt8] {
        (0..<16).map { index in
            UInt8(truncatingIfNeeded: (index < 8 ? high : low) >> UInt64(56 - 8 * (index % 8)))
        }
    }

    /// 32 lowercase hex digits.
    public var hex: String {
        Hex.encode(bytes)
    }

    public var description: String { hex }
}

extension TokenID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = TokenID(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a token id is 32 hex digits")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
