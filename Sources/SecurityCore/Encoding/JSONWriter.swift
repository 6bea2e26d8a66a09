/// JSON written straight into bytes: the one writer for problem details, ``JSONValue``s and the
/// response bodies on hot or secret-carrying paths, where `JSONEncoder` (reflection, dynamic casts,
/// a dictionary per object) would cost more than the checks before it, or leave a secret in a
/// `String`. Strings are escaped as RFC 8259 requires: quote, backslash and control characters.
package struct JSONWriter {
    /// What has been written.
    package private(set) var bytes: [UInt8]

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    package var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends `text` as it is (a number, a literal, a punctuation mark).
    package mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends `text` as a JSON string.
    package mutating func string(_ text: String) {
        string(utf8: text.utf8)
    }

    /// Appends UTF-8 `utf8` as a JSON string.
    package mutating func string<Bytes: Collection<UInt8>>(utf8: Bytes) {
        Self.append(string: utf8, to: &bytes)
    }

    /// Appends UTF-8 `utf8` as a JSON string to `bytes`, in place: for a body whose capacity was
    /// reserved up front, so that a secret written into it is never left behind in a moved buffer.
    package static func append<Bytes: Collection<UInt8>>(string utf8: Bytes, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Most values (ids, codes, timestamps) need no escaping: copied in one go, then checked
        // where they landed (a scan of the array is twice as fast as one of a string's view).
        let start = bytes.count
        bytes.append(contentsOf: utf8)
        if !bytes[start...].contains(where: needsEscaping) {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        // Written again, escaped, over the copy (never shorter, so no byte of it is left past the end).
        bytes.removeSubrange(start...)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(Hex.digit(byte >> 4))
                bytes.append(Hex.digit(byte & 0xF))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `value`, object keys sorted so equal values print the same.
    package mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .integer(let number): raw(String(number))
        case .double(let number): raw(number.isFinite ? "\(number)" : "null")
        case .string(let text): string(text)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(key)
                bytes.append(UInt8(ascii: ":"))
                self.value(members[key]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `items` as an array of strings.
    package mutating func array(_ items: [String]) {
        Self.append(array: items, to: &bytes)
    }

    /// Appends `items` as an array of strings to `bytes`, in place.
    package static func append(array items: [String], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            append(string: item.utf8, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends `"name":`, after a comma unless it is the object's first member.
    package mutating func key(_ name: String, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }
}

extension JSONWriter {
    /// A flat object built member by member, in the order given: `{"a":"x","b":null}`.
    package struct Object {
        private var writer: JSONWriter
        private var empty = true

        package init(capacity: Int = 256) {
            writer = JSONWriter(capacity: capacity)
            writer.raw("{")
        }

        /// Adds `"name":"value"`, or `"name":null` when `value` is nil.
        package mutating func add(_ name: String, _ value: String?) {
            writer.key(name, first: empty)
            empty = false
            if let value { writer.string(value) } else { writer.raw("null") }
        }

        /// Closes the object and gives its bytes.
        package mutating func finish() -> [UInt8] {
            writer.raw("}")
            return writer.bytes
        }
    }
}
