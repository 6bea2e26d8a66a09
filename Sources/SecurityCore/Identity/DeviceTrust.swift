/// How far a registered device is trusted: anonymous 0, basic 1, verified 2, trusted 3.
///
/// A device carries its level into the policy, where a rule's `trust:` list names the levels it
/// applies to (see Docs/POLICIES.md).
public enum DeviceTrust: Int, Hashable, Sendable, Comparable, CaseIterable {
    case anonymous = 0
    case basic = 1
    case verified = 2
    case trusted = 3

    public static func < (lhs: DeviceTrust, rhs: DeviceTrust) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The name used in policies and the API: `anonymous`, `basic`, `verified` or `trusted`.
    public var name: String {
        switch self {
        case .anonymous: "anonymous"
        case .basic: "basic"
        case .verified: "verified"
        case .trusted: "trusted"
        }
    }

    /// The level called `name`, or `nil`.
    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }
}
