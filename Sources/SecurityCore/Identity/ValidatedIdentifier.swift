/// A string type that can only hold valid values: ``AgentID``, ``Role``, ``Team``, ``KeyID``.
///
/// Conforming types validate in `init(_:)`; this protocol gives them one shared text form,
/// ordering and Codable behaviour (decoding validates, so invalid JSON values are refused).
public protocol ValidatedIdentifier: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The validated text.
    var rawValue: String { get }
    /// Validates `value`, throwing ``IdentityError`` if it breaks the type's rule.
    init(_ value: String) throws
}

extension ValidatedIdentifier {
    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
