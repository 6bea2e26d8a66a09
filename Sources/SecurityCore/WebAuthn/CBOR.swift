/// A CBOR data item (RFC 8949), as WebAuthn's attestation objects and COSE keys use them.
///
/// The decoder reads only what an authenticator sends and refuses the rest, so nothing is read two
/// ways: definite lengths only (no indefinite strings, arrays or maps), no tags, no floats, the
/// simple values `false`, `true` and `null` only, integers in the shortest form (RFC 8949 §4.2.1,
/// CTAP2's canonical encoding), text that is UTF-8, map keys that are integers or text and never
/// repeated, and at most ``CBORDecoder/defaultMaximumDepth`` levels of nesting.
///
/// ```swift
/// let (value, rest) = try CBORDecoder.decodePrefix(bytes[...])
/// value[.text("fmt")]?.textValue  // "none"
/// ```
public indirect enum CBORValue: Hashable, Sendable {
    /// Major types 0 and 1: an integer from -2^64 to 2^64 - 1, held as its sign and magnitude's
    /// `Int64` when it fits; others are refused by the decoder.
    case integer(Int64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    /// Keys in the order sent.
    case map([(key: CBORValue, value: CBORValue)])
    case bool(Bool)
    case null

    /// The value of `key`, for a map.
    public subscript(key: CBORValue) -> CBORValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// The integer, if this is one.
    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The bytes, if this is a byte string.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The text, if this is a text string.
    public var textValue: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    public static func == (lhs: CBORValue, rhs: CBORValue) -> Bool {
        switch (lhs, rhs) {
        case (.integer(let a), .integer(let b)): a == b
        case (.bytes(let a), .bytes(let b)): a == b
        case (.text(let a), .text(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .integer(let value):
            hasher.combine(0)
            hasher.combine(value)
        case .bytes(let value):
            hasher.combine(1)
            hasher.combine(value)
        case .text(let value):
            hasher.combine(2)
            hasher.combine(value)
        case .array(let value):
            hasher.combine(3)
            hasher.combine(value)
        case .map(let pairs):
            hasher.combine(4)
            for pair in pairs {
                hasher.combine(pair.key)
                hasher.combine(pair.value)
            }
        case .bool(let value):
            hasher.combine(5)
            hasher.combine(value)
        case .null: hasher.combine(6)
        }
    }
}

/// Decodes the CBOR that WebAuthn uses; see ``CBORValue`` for what it refuses.
public enum CBORDecoder {
    /// Nesting deeper than this is refused while decoding, before the stack can suffer.
    public static let defaultMaximumDepth = 16

    /// The one data item that is all of `bytes`. Throws ``WebAuthnError`` (`malformedCBOR`) for
    /// anything else, trailing bytes included.
    public static func decode(_ bytes: ArraySlice<UInt8>, maximumDepth: Int = defaultMaximumDepth) throws(WebAuthnError) -> CBORValue {
        let (value, rest) = try decodePrefix(bytes, maximumDepth: maximumDepth)
        guard rest.isEmpty else { throw WebAuthnError(.malformedCBOR, "bytes follow the CBOR item") }
        return value
    }

    /// The data item at the start of `bytes`, and the bytes after it (authenticator data ends
    /// with a COSE key and then, maybe, extensions).
    public static func decodePrefix(
        _ bytes: ArraySlice<UInt8>, maximumDepth: Int = defaultMaximumDepth
    ) throws(WebAuthnError) -> (CBORValue, ArraySlice<UInt8>) {
        var reader = Reader(bytes: bytes, maximumDepth: maximumDepth)
        let value = try reader.item(depth: 0)
        return (value, bytes[reader.position...])
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        let maximumDepth: Int
        var position: Int

        init(bytes: ArraySlice<UInt8>, maximumDepth: Int) {
            self.bytes = bytes
            self.maximumDepth = maximumDepth
            self.position = bytes.startIndex
        }

        static func fail(_ reason: String) -> WebAuthnError { WebAuthnError(.malformedCBOR, reason) }

        mutating func byte() throws(WebAuthnError) -> UInt8 {
            guard position < bytes.endIndex else { throw Self.fail("the CBOR item ends early") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func take(_ count: UInt64) throws(WebAuthnError) -> ArraySlice<UInt8> {
            guard count <= UInt64(bytes.endIndex - position) else { throw Self.fail("a CBOR string runs past the end") }
            let start = position
            position += Int(count)
            return bytes[start..<position]
        }

        /// The argument of a head whose additional information is `info`, in its shortest form.
        mutating func argument(_ info: UInt8) throws(WebAuthnError) -> UInt64 {
            switch info {
            case 0..<24: return UInt64(info)
            case 24...27:
                let width = 1 << Int(info - 24)
                var value: UInt64 = 0
                for _ in 0..<width { value = value << 8 | UInt64(try byte()) }
                let smallest: UInt64 = width == 1 ? 24 : 1 << (4 * UInt64(width))
                guard value >= smallest else { throw Self.fail("a CBOR integer or length is not in its shortest form") }
                return value
            case 31: throw Self.fail("indefinite lengths are not used by WebAuthn")
            default: throw Self.fail("a reserved CBOR head")
            }
        }

        mutating func item(depth: Int) throws(WebAuthnError) -> CBORValue {
            guard depth <= maximumDepth else { throw Self.fail("CBOR nested deeper than \(maximumDepth)") }
            let head = try byte()
            let major = head >> 5, info = head & 0x1F
            switch major {
            case 0:
                let value = try argument(info)
                guard value <= UInt64(Int64.max) else { throw Self.fail("a CBOR integer too large") }
                return .integer(Int64(value))
            case 1:
                let value = try argument(info)
                guard value <= UInt64(Int64.max) else { throw Self.fail("a CBOR integer too small") }
                return .integer(-1 - Int64(value))
            case 2:
                return .bytes(Array(try take(try argument(info))))
            case 3:
                let raw = try take(try argument(info))
                guard let text = String(validating: raw, as: UTF8.self) else { throw Self.fail("CBOR text that is not UTF-8") }
                return .text(text)
            case 4:
                let count = try argument(info)
                // Each element takes a byte at least: a count past the bytes left is a lie.
                guard count <= UInt64(bytes.endIndex - position) else { throw Self.fail("a CBOR array longer than its bytes") }
                var elements: [CBORValue] = []
                elements.reserveCapacity(Int(count))
                for _ in 0..<count { elements.append(try item(depth: depth + 1)) }
                return .array(elements)
            case 5:
                let count = try argument(info)
                guard count <= UInt64(bytes.endIndex - position) / 2 else { throw Self.fail("a CBOR map longer than its bytes") }
                var pairs: [(key: CBORValue, value: CBORValue)] = []
                pairs.reserveCapacity(Int(count))
                var seen = Set<CBORValue>()
                for _ in 0..<count {
                    let key = try item(depth: depth + 1)
                    switch key {
                    case .integer, .text: break
                    default: throw Self.fail("a CBOR map key that is not an integer or text")
                    }
                    guard seen.insert(key).inserted else { throw Self.fail("a CBOR map key sent twice") }
                    pairs.append((key, try item(depth: depth + 1)))
                }
                return .map(pairs)
            case 6:
                throw Self.fail("CBOR tags are not used by WebAuthn")
            default:
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                default: throw Self.fail("a CBOR simple value or float that WebAuthn does not use")
                }
            }
        }
    }
}
