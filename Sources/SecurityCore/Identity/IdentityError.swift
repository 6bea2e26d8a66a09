/// A value that is not a valid agent id, role or team.
///
/// The reason names the kind of value and what is wrong with it; it never repeats the value, which
/// may have come from an attacker and may be huge or contain control characters.
public struct IdentityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which kind of identifier was refused.
    public let kind: String
    /// A human-readable explanation.
    public let reason: String

    public var description: String { "invalid \(kind): \(reason)" }
}

/// The rule every identifier follows: `^[A-Za-z0-9_-]{1,128}$` (a team may also be empty).
enum IdentifierRule {
    static let maximumLength = 128

    static func check(_ value: String, kind: String, allowEmpty: Bool = false) throws {
        var count = 0
        for byte in value.utf8 {
            count += 1
            guard count <= maximumLength else {
                throw IdentityError(kind: kind, reason: "longer than \(maximumLength) characters")
            }
            guard isAllowed(byte) else {
                throw IdentityError(kind: kind, reason: "only A-Z, a-z, 0-9, '_' and '-' are allowed")
            }
        }
        guard count > 0 || allowEmpty else {
            throw IdentityError(kind: kind, reason: "must not be empty")
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
