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
        return reverse.withUnsafeBufferPointer { tableBuffer -> Bool in
            let table = tableBuffer.baseAddress!
            let source = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let target = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var invalid: UInt8 = 0
            var index = 0
            var out = 0
            let whole = input.count & ~3
            while index < whole {
                let a = table[Int(source[index])], b = table[Int(source[index + 1])]
                let c = table[Int(source[index + 2])], d = table[Int(source[index + 3])]
                invalid |= a | b | c | d
                let value = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                target[out] = UInt8(truncatingIfNeeded: value >> 16)
                target[out + 1] = UInt8(truncatingIfNeeded: value >> 8)
                target[out + 2] = UInt8(truncatingIfNeeded: value)
                index += 4
                out += 3
            }
            switch input.count - index {
            case 2:
                let a = table[Int(source[index])], b = table[Int(source[index + 1])]
                invalid |= a | b
                if b & 0x0F != 0 { invalid |= 0xC0 }  // bits past the last byte must be zero
                target[out] = a << 2 | (b & 63) >> 4
            case 3:
                let a = table[Int(source[index])], b = table[Int(source[index + 1])], c = table[Int(source[index + 2])]
                invalid |= a | b | c
                if c & 0x03 != 0 { invalid |= 0xC0 }
                target[out] = a << 2 | (b & 63) >> 4
                target[out + 1] = (b & 0x0F) << 4 | (c & 63) >> 2
            default:
                break
            }
            // Valid table entries are 0...63; the invalid marker 0xFF sets the top bits.
            return invalid & 0xC0 == 0
        }
    }
}
