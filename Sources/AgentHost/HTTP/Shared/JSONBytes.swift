/// JSON written straight into bytes, for the bodies on hot or secret-carrying paths where
/// `JSONEncoder` (reflection, dynamic casts and a dictionary per object) would cost more than the
/// security checks before it, or would leave a secret in a `String`.
enum JSONBytes {
    /// Appends `bytes` (UTF-8) as a JSON string: quotes, backslashes and control characters escaped.
    static func appendString<Bytes: Sequence<UInt8>>(_ bytes: Bytes, to body: inout [UInt8]) {
        // Most values (ids, roles, timestamps) need no escaping: copy them in one go.
        let copied = bytes.withContiguousStorageIfAvailable { buffer -> Bool in
            guard !buffer.contains(where: needsEscaping) else { return false }
            body.append(UInt8(ascii: "\""))
            body.append(contentsOf: buffer)
            body.append(UInt8(ascii: "\""))
            return true
        }
        if copied == true { return }
        body.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                body.append(UInt8(ascii: "\\"))
                body.append(byte)
            case 0..<0x20:
                body.append(contentsOf: "\\u00".utf8)
                body.append(hexDigit(byte >> 4))
                body.append(hexDigit(byte & 0xF))
            default:
                body.append(byte)
            }
        }
        body.append(UInt8(ascii: "\""))
    }

    /// Appends `items` as a JSON array of strings.
    static func appendArray(_ items: [String], to body: inout [UInt8]) {
        body.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            appendString(item.utf8, to: &body)
        }
        body.append(UInt8(ascii: "]"))
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// A flat JSON object built member by member: `{"a":"x","b":null}`.
    struct Object {
        private(set) var bytes: [UInt8]

        init(capacity: Int = 256) {
            bytes = []
            bytes.reserveCapacity(capacity)
            bytes.append(UInt8(ascii: "{"))
        }

        /// Adds `"name":"value"`, or `"name":null` when `value` is nil.
        mutating func add(_ name: StaticString, _ value: String?) {
            member(name)
            if let value {
                JSONBytes.appendString(value.utf8, to: &bytes)
            } else {
                bytes.append(contentsOf: "null".utf8)
            }
        }

        /// Closes the object and gives its bytes.
        mutating func finish() -> [UInt8] {
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }

        private mutating func member(_ name: StaticString) {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: "\":".utf8)
        }
    }
}
