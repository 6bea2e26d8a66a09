import Foundation

/// Keeps user-supplied file paths under a root directory.
///
/// A path is refused when it is empty, absolute, longer than 4,096 bytes, or contains NUL, a
/// control character or a backslash. Otherwise it is taken relative to the root, `.` and `..` are
/// applied, and every symbolic link that exists is followed (at most 40); the result must still
/// be the root or lie under it. Checking only for `..` (as Agor does) lets a symlink inside the
/// root, or an absolute path, lead anywhere.
///
/// The answer is true when it is given: a process that can change the tree afterwards (swap a
/// directory for a link) can still race it, so open the returned path with `O_NOFOLLOW` where
/// that matters, and do not let agents write links into the root.
///
/// ```swift
/// let worktree = try PathGuard(root: "/srv/worktrees/builder-7")
/// let file = try worktree.resolve("src/main.swift")   // "/srv/worktrees/builder-7/src/main.swift"
/// try worktree.resolve("../other/secret")             // throws: outside the root
/// ```
public struct PathGuard: Sendable {
    /// The root, absolute and with its own links resolved.
    public let root: String

    /// The longest path accepted, in bytes.
    public static let maximumLength = 4_096
    static let maximumLinks = 40

    /// Throws ``PathGuardError`` when `root` is not an absolute path to an existing directory.
    public init(root: String) throws(PathGuardError) {
        guard root.hasPrefix("/") else { throw PathGuardError(.notAbsoluteRoot, "the root must be an absolute path") }
        let resolved = try Self.walk(base: [], components: root.split(separator: "/").map(String.init))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PathGuardError(.rootMissing, "the root is not an existing directory")
        }
        self.root = resolved
    }

    /// The absolute path `path` names under the root. Throws ``PathGuardError``; its reason never
    /// repeats the path.
    public func resolve(_ path: String) throws(PathGuardError) -> String {
        guard !path.isEmpty else { throw PathGuardError(.empty, "the path is empty") }
        guard path.utf8.count <= Self.maximumLength else { throw PathGuardError(.tooLong, "the path is longer than 4096 bytes") }
        guard path.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\\") }) else {
            throw PathGuardError(.forbiddenCharacter, "the path contains NUL, a control character or a backslash")
        }
        guard !path.hasPrefix("/") else { throw PathGuardError(.absolute, "the path must be relative to the root") }
        let base = root.split(separator: "/").map(String.init)
        let resolved = try Self.walk(base: base, components: path.split(separator: "/").map(String.init))
        guard resolved == root || resolved.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw PathGuardError(.outsideRoot, "the path leads outside the root")
        }
        return resolved
    }

    /// Applies `components` to the absolute path `base`, following links that exist.
    private static func walk(base: [String], components: [String]) throws(PathGuardError) -> String {
        var resolved = base
        var pending = Array(components.reversed())
        var links = 0
        while let component = pending.popLast() {
            if component.isEmpty || component == "." { continue }
            if component == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) {
                links += 1
                guard links <= maximumLinks else { throw PathGuardError(.tooManyLinks, "the path follows too many symbolic links") }
                if target.hasPrefix("/") { resolved = [] }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
            } else {
                resolved.append(component)
            }
        }
        return "/" + resolved.joined(separator: "/")
    }
}

/// Why a path was refused by ``PathGuard``.
public struct PathGuardError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case empty
            case tooLong = "too_long"
            case forbiddenCharacter = "forbidden_character"
            case absolute
            case outsideRoot = "outside_root"
            case tooManyLinks = "too_many_links"
            case notAbsoluteRoot = "root_not_absolute"
            case rootMissing = "root_missing"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// An empty path.
        public static let empty = Code(.empty)
        /// A path longer than allowed.
        public static let tooLong = Code(.tooLong)
        /// A NUL or control character.
        public static let forbiddenCharacter = Code(.forbiddenCharacter)
        /// An absolute path where a relative one is required.
        public static let absolute = Code(.absolute)
        /// A path that leaves the root, by `..` or a link.
        public static let outsideRoot = Code(.outsideRoot)
        /// Too many symbolic links to follow.
        public static let tooManyLinks = Code(.tooManyLinks)
        /// The root is not an absolute path.
        public static let notAbsoluteRoot = Code(.notAbsoluteRoot)
        /// The root does not exist.
        public static let rootMissing = Code(.rootMissing)

        public var description: String { value.rawValue }
    }

    /// What kind of refusal.
    public let code: Code
    /// A sentence saying why, without the path.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
