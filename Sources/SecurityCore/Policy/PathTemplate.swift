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

    /// Whether the template has any `{parameter}`.
    let hasParameters: Bool

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
        self.hasParameters = segments.contains { if case .parameter = $0 { true } else { false } }
        self.description = text
    }

    /// Parses `text` for a caller outside a policy file (the proxy's path rules); the error's
    /// reason says what is wrong.
    package init(validating text: String) throws(PolicyLoadError) {
        do {
            try self.init(text)
        } catch {
            throw PolicyLoadError(source: "path", line: 0, item: nil, reason: error.text)
        }
    }

    /// Whether `path` (starting with `/`, no query) has only plain segments: none empty, `.` or `..`.
    package static func isPlainPath(_ path: Substring) -> Bool {
        guard let parts = PathSegments(path) else { return false }
        return parts.all.allSatisfy(PathSegments.isPlain)
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

    /// Whether `path` (no query) matches.
    func matches(_ path: Substring) -> Bool {
        PathSegments(path).map(matches) ?? false
    }

    /// Whether the path split into `parts` matches.
    func matches(_ parts: PathSegments) -> Bool {
        // The root: "/" has one empty segment, which only a template that is all rest covers.
        if parts.isRoot, segments.first == .rest { return true }
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .rest:
                return parts.all[index...].allSatisfy(PathSegments.isPlain)
            case .literal(let literal):
                guard index < parts.count, parts.all[index].elementsEqual(literal.utf8) else { return false }
            case .parameter:
                guard index < parts.count, PathSegments.isPlain(parts.all[index]) else { return false }
            }
        }
        return parts.count == segments.count
    }

    /// The captured parameters when `path` matches, else `nil`.
    public func match(_ path: Substring) -> [String: String]? {
        PathSegments(path).flatMap(captures)
    }

    /// The captured parameters when the path split into `parts` matches, else `nil`.
    func captures(_ parts: PathSegments) -> [String: String]? {
        guard matches(parts) else { return nil }
        var captured = [String: String]()
        for (segment, part) in zip(segments, parts.all) {
            if case .parameter(let name) = segment { captured[name] = String(Substring(part)) }
        }
        return captured
    }
}

/// A path's `/`-separated segments after its leading `/`, split on the byte `/` (never on
/// Characters, which a combining mark after `/` would join) and compared as bytes.
struct PathSegments {
    let all: [Substring.UTF8View]

    /// Splits `path` (no query); nil when it does not start with `/`.
    init?(_ path: Substring) {
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        all = path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
    }

    var count: Int { all.count }

    /// Whether the path is `/` alone.
    var isRoot: Bool { all.count == 1 && all[0].isEmpty }

    /// Not empty, `.` or `..`.
    static func isPlain(_ part: Substring.UTF8View) -> Bool {
        !part.isEmpty && !part.elementsEqual(".".utf8) && !part.elementsEqual("..".utf8)
    }
}
