/// Base64url without padding (RFC 4648 §5), strict in what it accepts.
///
/// Decoding refuses padding, characters outside the URL-safe alphabet, impossible lengths and
/// non-zero trailing bits, so every byte string has exactly one accepted text form.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    /// Four 256-entry tables, one per position in a group of four characters, each holding the
    /// character's six bits already shifted into place; a character outside the alphabet sets the
    /// top byte. A group then decodes with four loads and three ORs.
    private static let shifted: [UInt32] = {
        var table = [UInt32](repeating: 0xFF00_0000, count: 1024)
        for (index, character) in alphabet.enumerated() {
            for position in 0..<4 {
                table[position * 256 + Int(character)] = UInt32(index) << UInt32(18 - 6 * position)
            }
        }
        return table
    }()

    /// The text length of `byteCount` encoded bytes.
    public static func encodedLength(of byteCount: Int) -> Int {
        (byteCount / 3) * 4 + [0, 2, 3][byteCount % 3]
    }

    /// The byte length of `textCount` characters of valid base64url, or `nil` for an impossible length.
    public static func decodedLength(of textCount: Int) -> Int? {
        textCount % 4 == 1 ? nil : (textCount / 4) * 3 + [0, 0, 1, 2][textCount % 4]
    }

    /// Encodes `bytes`.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        withBytes(of: bytes) { input in
            String(unsafeUninitializedCapacity: encodedLength(of: input.count)) { output in
                encode(input, into: UnsafeMutableRawBufferPointer(output))
            }
        }
    }

    /// Encodes `bytes` in standard base64 with padding (RFC 4648 §4), as HTTP Basic credentials
    /// are written, into a new array the caller can wipe.
    package static func encodeStandard(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: encodedLength(of: bytes.count))
        _ = output.withUnsafeMutableBytes { encode(bytes, into: $0) }
        for index in output.indices {
            if output[index] == UInt8(ascii: "-") { output[index] = UInt8(ascii: "+") }
            if output[index] == UInt8(ascii: "_") { output[index] = UInt8(ascii: "/") }
        }
        output += repeatElement(UInt8(ascii: "="), count: (4 - output.count % 4) % 4)
        return output
    }

    /// Encodes `input` into `output`, which must hold ``encodedLength(of:)`` bytes; returns that count.
    static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        var out = 0
        var index = 0
        alphabet.withUnsafeBufferPointer { table in
            while index + 3 <= input.count {
                let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                output[out] = table[Int(value >> 18 & 63)]
                output[out + 1] = table[Int(value >> 12 & 63)]
                output[out + 2] = table[Int(value >> 6 & 63)]
                output[out + 3] = table[Int(value & 63)]
                index += 3
                out += 4
            }
            let remaining = input.count - index
            if remaining == 1 {
                let value = UInt32(input[index]) << 16
                output[out] = table[Int(value >> 18 & 63)]
                output[out + 1] = table[Int(value >> 12 & 63)]
                out += 2
            } else if remaining == 2 {
                let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                output[out] = table[Int(value >> 18 & 63)]
                output[out + 1] = table[Int(value >> 12 & 63)]
                output[out + 2] = table[Int(value >> 6 & 63)]
                out += 3
            }
        }
        return out
    }

    /// Whether `byte` is one of the 64 base64url characters (`A-Z a-z 0-9 - _`).
    static func isAlphabet(_ byte: UInt8) -> Bool {
        reverse[Int(byte)] != 0xFF
    }

    /// Decodes `text`, or returns `nil` if it is not canonical unpadded base64url.
    public static func decode<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { input -> [UInt8]? in
            guard let length = decodedLength(of: input.count) else { return nil }
            var result = [UInt8](repeating: 0, count: length)
            let ok = result.withUnsafeMutableBytes { decode(UnsafeRawBufferPointer(input), into: $0) }
            return ok ? result : nil
        }
    }

    /// Decodes `input` into `output`, which must be exactly ``decodedLength(of:)`` bytes long.
    /// Returns `false` for any character, length or trailing-bit error. Runs in time that depends
    /// only on the length (errors are accumulated, not returned early).
    static func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let expected = decodedLength(of: input.count), expected == output.count else { return false }
        guard input.count > 0 else { return true }
        let whole = input.count & ~3
        let invalid = shifted.withUnsafeBufferPointer { tableBuffer -> UInt32 in
            let table = tableBuffer.baseAddress!
            let source = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let target = output.baseAddress!
            var invalid: UInt32 = 0
            var index = 0
            var out = 0
            @inline(__always) func group(_ at: Int) -> UInt32 {
                table[Int(source[at])] | table[256 + Int(source[at + 1])]
                    | table[512 + Int(source[at + 2])] | table[768 + Int(source[at + 3])]
            }
            // Eight characters make six bytes, written as one 8-byte store whose last two bytes the
            // next group overwrites; the last groups, which have no room for that, go one by one.
            while index + 8 <= whole, out + 8 <= output.count {
                let first = group(index), second = group(index + 4)
                invalid |= first | second
                let value = UInt64(first & 0xFF_FFFF) << 40 | UInt64(second & 0xFF_FFFF) << 16
                target.storeBytes(of: value.bigEndian, toByteOffset: out, as: UInt64.self)
                index += 8
                out += 6
            }
            while index < whole {
                let value = group(index)
                invalid |= value
                target.storeBytes(of: UInt8(truncatingIfNeeded: value >> 16), toByteOffset: out, as: UInt8.self)
                target.storeBytes(of: UInt8(truncatingIfNeeded: value >> 8), toByteOffset: out + 1, as: UInt8.self)
                target.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: out + 2, as: UInt8.self)
                index += 4
                out += 3
            }
            return invalid
        }
        guard input.count > whole else { return invalid & 0xFF00_0000 == 0 }
        // Two or three characters left (one is an impossible length, refused above).
        let tail = reverse.withUnsafeBufferPointer { table -> UInt8 in
            let source = input.baseAddress!.assumingMemoryBound(to: UInt8.self) + whole
            let target = output.baseAddress!.assumingMemoryBound(to: UInt8.self) + whole / 4 * 3
            let a = table[Int(source[0])], b = table[Int(source[1])]
            if input.count - whole == 2 {
                target[0] = a << 2 | (b & 63) >> 4
                // Bits past the last byte must be zero, or two texts would decode alike.
                return a | b | (b & 0x0F != 0 ? 0xC0 : 0)
            }
            let c = table[Int(source[2])]
            target[0] = a << 2 | (b & 63) >> 4
            target[1] = (b & 0x0F) << 4 | (c & 63) >> 2
            return a | b | c | (c & 0x03 != 0 ? 0xC0 : 0)
        }
        // Valid `reverse` entries are 0...63; its invalid marker 0xFF sets the top bits.
        return invalid & 0xFF00_0000 == 0 && tail & 0xC0 == 0
    }
}
