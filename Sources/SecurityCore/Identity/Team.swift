/// The team a principal belongs to; the empty team means none.
///
/// Always valid: possibly empty, at most 128 characters of `A-Z a-z 0-9 _ -`. Code that holds a `Team`
/// never needs to check it again.
public struct Team: ValidatedIdentifier {
    /// The validated text.
    public let rawValue: String

    /// Validates `value`, throwing ``IdentityError`` if it does not follow the rule.
    public init(_ value: String) throws {
        try IdentifierRule.check(value, kind: "team", allowEmpty: true)
        self.rawValue = value
    }

    /// Wraps text already known to be valid (decoded from an authenticated token).
    init(unchecked value: String) {
        self.rawValue = value
    }

    /// No team.
    public static let none = Team(unchecked: "")

    /// Whether this is the empty team.
    public var isEmpty: Bool { rawValue.isEmpty }
}
