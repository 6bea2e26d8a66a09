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
    /// The same segments with literals as bytes, for matching without String indices.
    let compiled: [CompiledSegment]
    public let description: String

    enum CompiledSegment: Hashable, Sendable {
        case literal([UInt8])
        case parameter
        case rest
    }

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
        self.compiled = segments.map { segment in
            switch segment {
            case .literal(let literal): .literal(Array(literal.utf8))
            case .parameter: .parameter
            case .rest: .rest
            }
        }
        self.hasParameters = self.compiled.contains(.parameter)
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
        var path = path
        return path.withUTF8 { matches(bytes: $0) }
    }

    /// Whether the path in `bytes` (no query) matches.
    func matches(bytes path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = path.first, first == UInt8(ascii: "/") else { return false }
        // The root: "/" has one empty segment, which only a template that is all rest covers.
        if path.count == 1, compiled.first == .rest { return true }
        var segments = ByteSegments(path)
        for segment in compiled {
            switch segment {
            case .rest:
                while let part = segments.next() {
                    if !Self.isPlain(part, in: path) { return false }
                }
                return true
            case .literal(let literal):
                guard let part = segments.next(), Self.equals(path, part, literal) else { return false }
            case .parameter:
                guard let part = segments.next(), Self.isPlain(part, in: path) else { return false }
            }
        }
        return segments.next() == nil
    }

    /// The captured parameters when `path` matches, else `nil`.
    public func match(_ path: Substring) -> [String: String]? {
        var path = path
        return path.withUTF8 { captures(bytes: $0) }
    }

    /// The captured parameters when the path in `bytes` matches, else `nil`.
    func captures(bytes path: UnsafeBufferPointer<UInt8>) -> [String: String]? {
        guard matches(bytes: path) else { return nil }
        var captured = [String: String]()
        var parts = ByteSegments(path)
        for segment in segments {
            guard let part = parts.next() else { break }
            if case .parameter(let name) = segment {
                captured[name] = String(decoding: UnsafeBufferPointer(rebasing: path[part]), as: UTF8.self)
            }
        }
        return captured
    }

    /// Not empty, `.` or `..`.
    private static func isPlain(_ part: Range<Int>, in path: UnsafeBufferPointer<UInt8>) -> Bool {
        let dot = UInt8(ascii: ".")
        switch part.count {
        case 0: return false
        case 1: return path[part.lowerBound] != dot
        case 2: return path[part.lowerBound] != dot || path[part.lowerBound + 1] != dot
        default: return true
        }
    }

    static func equals(_ path: UnsafeBufferPointer<UInt8>, _ part: Range<Int>, _ literal: [UInt8]) -> Bool {
        guard part.count == literal.count else { return false }
        var offset = 0
        for byte in literal {
            guard path[part.lowerBound + offset] == byte else { return false }
            offset += 1
        }
        return true
    }
}

/// The `/`-separated segments of a path's bytes after its leading `/`, as ranges.
struct ByteSegments {
    private let path: UnsafeBufferPointer<UInt8>
    private var position = 1
    private var done: Bool

    init(_ path: UnsafeBufferPointer<UInt8>) {
        self.path = path
        self.done = path.isEmpty
    }

    mutating func next() -> Range<Int>? {
        guard !done else { return nil }
        var end = position
        while end < path.count, path[end] != UInt8(ascii: "/") { end += 1 }
        let part = position..<end
        if end >= path.count { done = true } else { position = end + 1 }
        return part
    }
}
