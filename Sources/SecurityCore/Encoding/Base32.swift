/// Base32 (RFC 4648 §6): the alphabet `A-Z 2-7` in which TOTP secrets are shown and typed.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// `bytes` in upper case, without padding (as the `otpauth://` key URI format asks).
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var output = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(alphabet[Int(buffer >> UInt32(bits) & 31)])
            }
        }
        if bits > 0 { output.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        defer { SecureBytes.wipe(&output) }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` spells, in either case, with or without `=` padding; spaces are ignored
    /// (a secret typed in groups). `nil` for any other character, an impossible length or
    /// non-zero trailing bits.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var output = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        var characters = 0
        var padding = 0
        for character in text.utf8 where character != UInt8(ascii: " ") {
            if character == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0, let value = value(of: character) else { return nil }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            characters += 1
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // A group of 8 characters holds 5 bytes; 1, 3 and 6 characters of a last group are impossible.
        guard ![1, 3, 6].contains(characters % 8), buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        guard padding == 0 || (characters + padding) % 8 == 0 else { return nil }
        return output
    }

    private static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a")
        case UInt8(ascii: "2")...UInt8(ascii: "7"): character - UInt8(ascii: "2") + 26
        default: nil
        }
    }
}
