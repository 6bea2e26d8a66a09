/// A route path with named parameters, such as `/api/worktrees/{worktree}/files/**`: the one
/// spelling of a path pattern, for the policy's routes, rate-limit scopes, body limits, where a
/// credential may be presented, an upstream's allowed paths, and the server's own routes.
///
/// Literal segments match exactly, `{name}` matches one segment and captures it, and a final `**`
/// matches the rest of the path (possibly nothing: `/api/**` also matches `/api`, and `/**`
/// matches `/`). Paths are compared segment by segment, as bytes, after splitting on `/`.
///
/// Empty segments are skipped, as the router skips them: `/api//agents/` is the path
/// `/api/agents`, so it meets the same rules as the handler it reaches. A path with a `.` or `..`
/// segment never matches, so `/api/agents/../keys` cannot borrow the rule of `/api/agents/{agent}`
/// (``SecurityPipeline`` refuses such paths before anything is matched).
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
        // "/" is the root: no segment at all.
        let parts = text == "/" ? [] : text.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
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
                guard !part.isEmpty, !part.contains("{"), !part.contains("}"), !part.contains("*"),
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

    /// Whether `path` (starting with `/`, no query) has only plain segments: none empty, `.` or
    /// `..`. Stricter than matching, which skips empty segments: for a path sent on to another
    /// server, whose router may not.
    package static func isPlainPath(_ path: Substring) -> Bool {
        guard path.utf8.first == UInt8(ascii: "/") else { return false }
        return path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && PathSegments.isPlain($0)
        }
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

    /// Whether `path` (decoded, no query) matches. Walks the path's bytes without splitting it
    /// into an array: rate-limit scopes and body limits ask this of every request.
    public func matches(_ path: Substring) -> Bool {
        guard var parts = SegmentWalk(path.utf8) else { return false }
        for segment in segments {
            switch segment {
            case .rest:
                while let part = parts.next() {
                    guard PathSegments.isPlain(part) else { return false }
                }
                return true
            case .literal(let literal):
                guard let part = parts.next(), part.elementsEqual(literal.utf8) else { return false }
            case .parameter:
                guard let part = parts.next(), PathSegments.isPlain(part) else { return false }
            }
        }
        return parts.next() == nil
    }

    /// Whether the path split into `parts` matches.
    func matches(_ parts: PathSegments) -> Bool {
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

/// A path's `/`-separated segments, split on the byte `/` (never on Characters, which a combining
/// mark after `/` would join) and compared as bytes. Empty segments are skipped, as Hummingbird's
/// router skips them: `/a//b/` has the segments `a` and `b`, and `/` has none.
struct PathSegments {
    let all: [Substring.UTF8View]

    /// Splits `path` (no query); nil when it does not start with `/`.
    init?(_ path: Substring) {
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        all = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
    }

    var count: Int { all.count }

    /// Not `.` or `..` (nor empty, for a caller that keeps empty segments).
    static func isPlain(_ part: Substring.UTF8View) -> Bool {
        !part.isEmpty && !part.elementsEqual(".".utf8) && !part.elementsEqual("..".utf8)
    }
}

/// A path's non-empty segments one at a time, as ``PathSegments`` has them, without an array.
struct SegmentWalk {
    private let bytes: Substring.UTF8View
    private var index: Substring.UTF8View.Index

    /// Nil when `bytes` does not start with `/`.
    init?(_ bytes: Substring.UTF8View) {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    /// The next non-empty segment, or nil at the end.
    mutating func next() -> Substring.UTF8View.SubSequence? {
        while index != bytes.endIndex, bytes[index] == UInt8(ascii: "/") { bytes.formIndex(after: &index) }
        guard index != bytes.endIndex else { return nil }
        let start = index
        while index != bytes.endIndex, bytes[index] != UInt8(ascii: "/") { bytes.formIndex(after: &index) }
        return bytes[start..<index]
    }
}
