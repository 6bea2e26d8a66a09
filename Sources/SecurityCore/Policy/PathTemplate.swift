/// A route path with named parameters, such as `/api/worktrees/{worktree}/files/**`.
///
/// Literal segments match exactly, `{name}` matches one non-empty segment and captures it, and a
/// final `**` matches the rest of the path (possibly nothing). Paths are compared segment by
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

    /// The captured parameters when `path` matches, else `nil`.
    public func match(_ path: Substring) -> [String: String]? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        var captured = [String: String]()
        var index = 0
        for segment in segments {
            switch segment {
            case .rest:
                for part in parts[index...] where part.isEmpty || part == "." || part == ".." { return nil }
                return captured
            case .literal(let literal):
                guard index < parts.count, parts[index] == literal else { return nil }
            case .parameter(let name):
                guard index < parts.count, !parts[index].isEmpty, parts[index] != ".", parts[index] != ".." else { return nil }
                captured[name] = String(parts[index])
            }
            index += 1
        }
        return index == parts.count ? captured : nil
    }
}
