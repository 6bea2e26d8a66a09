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
        var bytes = (UInt64(0), UInt64(0))
        try withUnsafeMutableBytes(of: &bytes) { try SecureRandom.fill($0) }
        return TokenID(high: bytes.0, low: bytes.1)
    }

    /// Reads sixteen bytes.
    init(bytes: UnsafeRawBufferPointer) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
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

    /// Writes the sixteen bytes, big-endian, through `body`.
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { body($0) }
    }

    /// 32 lowercase hex digits.
    public var hex: String {
        withBytes { Hex.encode($0) }
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
