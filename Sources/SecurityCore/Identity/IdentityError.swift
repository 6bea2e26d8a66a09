/// A value that is not a valid agent id, role or team.
///
/// The reason names the kind of value and what is wrong with it; it never repeats the value, which
/// may have come from an attacker and may be huge or contain control characters.
public struct IdentityError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case empty
            case tooLong = "too_long"
            case invalidCharacter = "invalid_character"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// An empty value where one is required.
        public static let empty = Code(.empty)
        /// Longer than the rule allows.
        public static let tooLong = Code(.tooLong)
        /// A character outside `A-Z a-z 0-9 _ -`.
        public static let invalidCharacter = Code(.invalidCharacter)

        public var description: String { value.rawValue }
    }

    /// What is wrong, as a stable code.
    public let code: Code
    /// Which kind of identifier was refused (`agent id`, `role`, `team`, `key id`).
    public let kind: String
    /// What is wrong, naming the kind and never the value.
    public var reason: String { "invalid \(kind): \(detail)" }
    private let detail: String

    init(_ code: Code, kind: String, _ detail: String) {
        self.code = code
        self.kind = kind
        self.detail = detail
    }
}

/// The rule every identifier follows: `^[A-Za-z0-9_-]{1,128}$` (a team may also be empty).
enum IdentifierRule {
    static let maximumLength = 128

    static func check(_ value: String, kind: String, allowEmpty: Bool = false) throws {
        var count = 0
        for byte in value.utf8 {
            count += 1
            guard count <= maximumLength else {
                throw IdentityError(.tooLong, kind: kind, "longer than \(maximumLength) characters")
            }
            guard isAllowed(byte) else {
                throw IdentityError(.invalidCharacter, kind: kind, "only A-Z, a-z, 0-9, '_' and '-' are allowed")
            }
        }
        guard count > 0 || allowEmpty else {
            throw IdentityError(.empty, kind: kind, "must not be empty")
        }
    }

    @inline(__always)
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
