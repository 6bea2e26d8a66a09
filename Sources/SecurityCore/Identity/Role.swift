/// A role name such as `member`, `admin` or a platform's own (`ceo`, `developer`).
///
/// Always valid: non-empty, at most 128 characters of `A-Z a-z 0-9 _ -`. Code that holds a `Role`
/// never needs to check it again.
public struct Role: ValidatedIdentifier {
    /// The validated text.
    public let rawValue: String

    /// Validates `value`, throwing ``IdentityError`` if it does not follow the rule.
    public init(_ value: String) throws {
        try IdentifierRule.check(value, kind: "role")
        self.rawValue = value
    }

    /// Wraps text already known to be valid (decoded from an authenticated token).
    init(unchecked value: String) {
        self.rawValue = value
    }
}
