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
        var output = encodedBytes(bytes)
        // The bytes may be a secret (a new key, written out once): the working copy is wiped.
        defer { SecureBytes.wipe(&output) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Encodes `bytes` in standard base64 with padding (RFC 4648 §4), as HTTP Basic credentials
    /// are written, into a new array the caller can wipe.
    package static func encodeStandard(_ bytes: [UInt8]) -> [UInt8] {
        var output = encodedBytes(bytes)
        for index in output.indices {
            if output[index] == UInt8(ascii: "-") { output[index] = UInt8(ascii: "+") }
            if output[index] == UInt8(ascii: "_") { output[index] = UInt8(ascii: "/") }
        }
        output += repeatElement(UInt8(ascii: "="), count: (4 - output.count % 4) % 4)
        return output
    }

    /// The base64url characters of `bytes`, read once, in order (no copy of the input is made).
    static func encodedBytes<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [UInt8] {
        let table = alphabet
        var output = [UInt8]()
        output.reserveCapacity(encodedLength(of: bytes.underestimatedCount))
        var input = bytes.makeIterator()
        while let first = input.next() {
            let a = UInt32(first) << 16
            output.append(table[Int(a >> 18 & 63)])
            guard let second = input.next() else {
                output.append(table[Int(a >> 12 & 63)])
                break
            }
            let b = a | UInt32(second) << 8
            output.append(table[Int(b >> 12 & 63)])
            guard let third = input.next() else {
                output.append(table[Int(b >> 6 & 63)])
                break
            }
            let c = b | UInt32(third)
            output.append(table[Int(c >> 6 & 63)])
            output.append(table[Int(c & 63)])
        }
        return output
    }

    /// Whether `byte` is one of the 64 base64url characters (`A-Z a-z 0-9 - _`).
    static func isAlphabet(_ byte: UInt8) -> Bool {
        reverse[Int(byte)] != 0xFF
    }

    /// Decodes `text`, or returns `nil` if it is not canonical unpadded base64url.
    public static func decode<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
        let input = Array(text.utf8)
        guard let length = decodedLength(of: input.count) else { return nil }
        var result = [UInt8](repeating: 0, count: length)
        return decode(input[...], into: &result, at: 0) ? result : nil
    }

    /// Decodes `input` into `output` from `offset` on; `output` must have room for
    /// ``decodedLength(of:)`` bytes there. Returns `false` for any character, length or
    /// trailing-bit error. Runs in time that depends only on the length (errors are accumulated,
    /// not returned early).
    static func decode(_ input: ArraySlice<UInt8>, into output: inout [UInt8], at offset: Int) -> Bool {
        guard let length = decodedLength(of: input.count), offset >= 0, output.count - offset >= length else { return false }
        let table = shifted
        var invalid: UInt32 = 0
        var index = input.startIndex
        var out = offset
        let whole = input.startIndex + (input.count & ~3)
        // A group of four characters is four loads and three ORs.
        while index < whole {
            let value =
                table[Int(input[index])] | table[256 + Int(input[index + 1])]
                | table[512 + Int(input[index + 2])] | table[768 + Int(input[index + 3])]
            invalid |= value
            output[out] = UInt8(truncatingIfNeeded: value >> 16)
            output[out + 1] = UInt8(truncatingIfNeeded: value >> 8)
            output[out + 2] = UInt8(truncatingIfNeeded: value)
            index += 4
            out += 3
        }
        guard index < input.endIndex else { return invalid & 0xFF00_0000 == 0 }
        // Two or three characters left (one is an impossible length, refused above).
        let reverse = self.reverse
        let a = reverse[Int(input[index])], b = reverse[Int(input[index + 1])]
        output[out] = a << 2 | (b & 63) >> 4
        let tail: UInt8
        if input.endIndex - index == 2 {
            // Bits past the last byte must be zero, or two texts would decode alike.
            tail = a | b | (b & 0x0F != 0 ? 0xC0 : 0)
        } else {
            let c = reverse[Int(input[index + 2])]
            output[out + 1] = (b & 0x0F) << 4 | (c & 63) >> 2
            tail = a | b | c | (c & 0x03 != 0 ? 0xC0 : 0)
        }
        // Valid `reverse` entries are 0...63; its invalid marker 0xFF sets the top bits.
        return invalid & 0xFF00_0000 == 0 && tail & 0xC0 == 0
    }
}
