/// Where a vault secret lives: an owner of two segments and a name of one or more, written as one
/// path such as `projects/p1/git-token` or `users/alice/keys/openai`.
///
/// Every segment is 1-128 of `A-Z a-z 0-9 _ - .`, and never `.` or `..`, so a path cannot be
/// mistaken for another or escape into a directory when used as one.
public struct SecretPath: Hashable, Sendable, CustomStringConvertible {
    /// The owner, such as `projects/p1`.
    public let owner: String
    /// The name under the owner, such as `git-token`.
    public let name: String

    /// The most segments a path has.
    public static let maximumSegments = 8

    /// Parses `text`; throws ``AgentHostError`` saying what is wrong.
    public init(_ text: String) throws {
        let segments = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (3...Self.maximumSegments).contains(segments.count), segments.allSatisfy(Self.isSegment) else {
            throw AgentHostError(
                .invalidInput,
                "a secret path is owner-kind/owner/name, such as projects/p1/git-token: 3 to \(Self.maximumSegments) segments of "
                    + "1-128 of A-Z a-z 0-9 _ - . (not . or ..)"
            )
        }
        owner = segments[0...1].joined(separator: "/")
        name = segments[2...].joined(separator: "/")
    }

    /// The git token of `project`.
    public static func projectGitToken(_ project: String) throws -> SecretPath {
        try SecretPath("projects/\(project)/git-token")
    }

    /// The provider key (an LLM API key, say) of `user`.
    public static func userKey(_ user: String, provider: String) throws -> SecretPath {
        try SecretPath("users/\(user)/keys/\(provider)")
    }

    public var description: String { owner + "/" + name }

    static func isSegment(_ segment: Substring) -> Bool {
        guard (1...128).contains(segment.utf8.count), segment != ".", segment != ".." else { return false }
        return segment.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }
}
