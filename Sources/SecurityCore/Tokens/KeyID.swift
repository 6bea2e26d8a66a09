/// The name of a signing key, carried in every token so the verifier can pick the key.
///
/// Always valid: 1 to 64 characters of `A-Z a-z 0-9 _ -`. Not a secret.
public struct KeyID: ValidatedIdentifier {
    /// The longest key id accepted.
    public static let maximumLength = 64

    /// The validated text.
    public let rawValue: String

    /// Validates `value`, throwing ``IdentityError`` if it does not follow the rule.
    public init(_ value: String) throws {
        guard value.utf8.count <= Self.maximumLength else {
            throw IdentityError(.tooLong, kind: "key id", "longer than \(Self.maximumLength) characters")
        }
        try IdentifierRule.check(value, kind: "key id")
        self.rawValue = value
    }

    /// A new id of the form `k-YYYYMMDD-xxxxxxxx`: the creation day and 32 random bits.
    public static func generate(now: Int64) throws -> KeyID {
        let days = now / 86_400
        let (year, month, day) = UTCTimestamp.civilDate(daysSinceEpoch: days)
        let random = try SecureRandom.bytes(count: 4).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return try KeyID("k-\(pad(year, 4))\(pad(month, 2))\(pad(day, 2))-\(random)")
    }
}
