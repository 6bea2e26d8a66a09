/// A route path with named parameters, such as `/api/worktrees/{worktree}/files/**`.
///
/// Literal segments match exactly, `{name}` matches one non-empty segment and captures it, and a
/// final `**` matches the rest of the path (possibly nothing; `/**` also matches `/`). Paths are compared segment by
/// segment after splitting on `/`; a path with `.` or `..` segments or an empty segment never
/// matches, so `/api/agents/../keys` cannot borrow the rule of `/api/agents/{agent}`.
public struct PathTemplate: Hashable, Sendable, CustomStringConvertible {
    enum Segment: Hashable, Sendable {
        case literal(String)
        case parameter(String)
        case rest
    }

    let segments: [Segment]
    public let description: String

    /// The names of the template's parameters, in order.
    public var parameters: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    /// Parses a template; throws a reason when it is not one.
    init(_ text: String) throws(PolicyLoadError.Reason) {
        guard text.hasPrefix("/") else { throw .init("path must start with /") }
        var segments = [Segment]()
        let parts = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            if part == "**" {
                guard index == parts.count - 1 else { throw .init("** may only be the last segment") }
                segments.append(.rest)
            } else if part.hasPrefix("{"), part.hasSuffix("}") {
                let name = String(part.dropFirst().dropLast())
                guard (try? IdentifierRule.check(name, kind: "parameter")) != nil else {
                    throw .init("parameter name {\(name)} must be 1-128 characters of A-Z a-z 0-9 _ -")
                }
                guard !segments.contains(.parameter(name)) else { throw .init("parameter {\(name)} appears twice") }
                segments.append(.parameter(name))
            } else {
                guard !(part.isEmpty && parts.count > 1), !part.contains("{"), !part.contains("}"), !part.contains("*"),
                      part != ".", part != ".."
                else { throw .init("segment '\(part)' is not a literal, {parameter} or a final **") }
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
        self.description = text
    }

    /// The leading literal segments (up to the first parameter or `**`), for the route index.
    var literalPrefix: [String] {
        var prefix = [String]()
        for segment in segments {
            guard case .literal(let literal) = segment else { break }
            prefix.append(literal)
        }
        return prefix
    }

    /// Whether `path` matches, without allocating.
    func matches(_ path: Substring) -> Bool {
        guard path.hasPrefix("/") else { return false }
        // The root: "/" has one empty segment, which only a template that is all rest covers.
        if path.utf8.count == 1, segments.first == .rest { return true }
        var parts = PathSegments(path.dropFirst())
        for segment in segments {
            switch segment {
            case .rest:
                while let part = parts.next() {
                    if !Self.isPlain(part) { return false }
                }
                return true
            case .literal(let literal):
                guard let part = parts.next(), part == literal else { return false }
            case .parameter:
                guard let part = parts.next(), !part.isEmpty, Self.isPlain(part) else { return false }
            }
        }
        return parts.next() == nil
    }

    /// The captured parameters when `path` matches, else `nil`.
    public func match(_ path: Substring) -> [String: String]? {
        guard matches(path) else { return nil }
        var captured = [String: String]()
        var parts = PathSegments(path.dropFirst())
        for segment in segments {
            guard let part = parts.next() else { break }
            if case .parameter(let name) = segment { captured[name] = String(part) }
        }
        return captured
    }

    /// Not `.` or `..` (empty segments are checked where they matter).
    private static func isPlain(_ part: Substring) -> Bool {
        !part.isEmpty && part != "." && part != ".."
    }
}

/// The `/`-separated segments of a path (without its leading `/`), as slices: no allocation.
struct PathSegments: IteratorProtocol {
    private var rest: Substring?

    init(_ path: Substring) {
        rest = path
    }

    mutating func next() -> Substring? {
        guard let current = rest else { return nil }
        if let slash = current.utf8.firstIndex(of: UInt8(ascii: "/")) {
            rest = current[current.utf8.index(after: slash)...]
            return current[..<slash]
        }
        rest = nil
        return current
    }
}
