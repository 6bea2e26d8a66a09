import Foundation

/// Makes sure a workspace (a git clone an agent worked in) keeps no credential: RoboCo's clone
/// guarantee, done thoroughly.
///
/// 1. Every git configuration under the workspace (`.git/config`, submodules' `.git/modules/*/config`)
///    loses remote URLs' user info (`https://user:token@host/…` becomes `https://host/…`),
///    `http.extraheader` and `http.<url>.extraheader` lines, and credential helpers.
/// 2. Every regular file under the workspace is searched for each secret in every form
///    ``SecretRedactor`` knows (raw, base64, base64url, URL-encoded, hex), in chunks, so a file of
///    any size is read in bounded memory. Symbolic links are never followed, so a link loop or a
///    link out of the workspace is not a way around it.
/// 3. On a hit the whole workspace is deleted and ``Finding`` names the file (never the secret).
///
/// ```swift
/// let scrubber = WorkspaceScrubber(secrets: [token])
/// if let finding = try scrubber.scrub(workspace).finding { fail("a credential was left in \(finding.path)") }
/// ```
public struct WorkspaceScrubber: Sendable {
    /// A file that held a secret, relative to the workspace.
    public struct Finding: Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public var description: String { "a credential was found in \(path); the workspace was deleted" }
    }

    /// What the configuration clean-up changed, for reporting.
    public struct Cleaned: Hashable, Sendable {
        /// Git configuration files rewritten, relative to the workspace.
        public var files: [String] = []
        /// Lines removed or rewritten in them.
        public var lines = 0
    }

    private let forms: [[UInt8]]
    private let longest: Int
    /// Bytes read at once.
    static let chunkSize = 1 << 20

    /// A scrubber for `secrets`. Secrets shorter than ``SecretRedactor/minimumLength`` bytes are
    /// refused: searching a workspace for them would find them everywhere.
    public init(secrets: [SecureBytes]) throws(ScrubError) {
        var forms = [[UInt8]]()
        for secret in secrets {
            guard secret.count >= SecretRedactor.minimumLength else {
                throw ScrubError(.invalidInput, "a secret to search for is shorter than \(SecretRedactor.minimumLength) bytes")
            }
            var raw = Array(secret)
            forms += SecretRedactor.forms(of: raw)
            SecureBytes.wipe(&raw)
        }
        self.forms = forms
        self.longest = forms.map(\.count).max() ?? 0
    }

    /// What a scrub did: the configuration it cleaned, and the file a secret was found in (the
    /// workspace is then deleted), or `nil` when the workspace is clean and kept.
    public struct Outcome: Hashable, Sendable {
        public let cleaned: Cleaned
        public let finding: Finding?
    }

    /// Cleans the git configuration, then searches. Throws ``ScrubError`` when the workspace cannot
    /// be read or deleted.
    public func scrub(_ workspace: String) throws(ScrubError) -> Outcome {
        let root = URL(fileURLWithPath: workspace).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ScrubError(.invalidInput, "\(workspace) is not a directory")
        }
        let cleaned = try cleanGitConfiguration(root)
        if let finding = try search(root) {
            do {
                try FileManager.default.removeItem(at: root)
            } catch {
                throw ScrubError(
                    .credentialFound,
                    "a credential was found in \(finding.path), and the workspace could not be deleted: remove \(workspace) by hand")
            }
            return Outcome(cleaned: cleaned, finding: finding)
        }
        return Outcome(cleaned: cleaned, finding: nil)
    }

    // MARK: Git configuration

    func cleanGitConfiguration(_ root: URL) throws(ScrubError) -> Cleaned {
        var cleaned = Cleaned()
        for file in try regularFiles(under: root) where Self.isGitConfig(file.relative) {
            guard let data = FileManager.default.contents(atPath: file.url.path) else { continue }
            let original = String(decoding: data, as: UTF8.self)
            var section = ""
            var changed = 0
            var kept = [String]()
            for line in original.split(separator: "\n", omittingEmptySubsequences: false) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("[") { section = trimmed.lowercased() }
                let key =
                    trimmed.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                if key == "extraheader" || (section.hasPrefix("[credential") && key == "helper") {
                    changed += 1
                    continue
                }
                if key == "url" || key == "pushurl", let stripped = Self.withoutUserInfo(String(line)) {
                    kept.append(stripped)
                    changed += 1
                    continue
                }
                kept.append(String(line))
            }
            guard changed > 0 else { continue }
            do {
                try Data(kept.joined(separator: "\n").utf8).write(to: file.url, options: .atomic)
            } catch {
                throw ScrubError(.unwritable, "cannot rewrite \(file.relative)")
            }
            cleaned.files.append(file.relative)
            cleaned.lines += changed
        }
        return cleaned
    }

    static func isGitConfig(_ relative: String) -> Bool {
        relative == ".git/config" || relative.hasSuffix("/.git/config")
            || (relative.hasPrefix(".git/modules/") && relative.hasSuffix("/config"))
    }

    /// `url = https://user:token@host/path` without `user:token@`; `nil` when there is no user info.
    static func withoutUserInfo(_ line: String) -> String? {
        guard let scheme = line.range(of: "://") else { return nil }
        let rest = line[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0 == " " } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return nil }
        return String(line[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }

    // MARK: Search

    func search(_ root: URL) throws(ScrubError) -> Finding? {
        guard longest > 0 else { return nil }
        for file in try regularFiles(under: root) {
            guard let handle = try? FileHandle(forReadingFrom: file.url) else {
                throw ScrubError(.unreadable, "cannot read \(file.relative); the workspace was not checked")
            }
            defer { try? handle.close() }
            // Chunks overlap by the longest form less one byte, so a secret across a boundary is found.
            var carry = [UInt8]()
            while true {
                let chunk: Data
                do {
                    chunk = try handle.read(upToCount: Self.chunkSize) ?? Data()
                } catch {
                    throw ScrubError(.unreadable, "cannot read \(file.relative); the workspace was not checked")
                }
                if chunk.isEmpty { break }
                var window = carry
                window.append(contentsOf: chunk)
                if contains(window) {
                    SecureBytes.wipe(&window)
                    return Finding(path: file.relative)
                }
                carry = Array(window.suffix(longest - 1))
                SecureBytes.wipe(&window)
            }
        }
        return nil
    }

    func contains(_ bytes: [UInt8]) -> Bool {
        for form in forms where form.count <= bytes.count {
            let first = form[0]
            var index = 0
            while index <= bytes.count - form.count {
                if bytes[index] == first, bytes[index..<(index + form.count)].elementsEqual(form) { return true }
                index += 1
            }
        }
        return false
    }

    /// Every regular file under `root`, never through a symbolic link.
    func regularFiles(under root: URL) throws(ScrubError) -> [(url: URL, relative: String)] {
        let keys: [URLResourceKey] = [.isRegularFileKey, .isSymbolicLinkKey]
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys, options: []) else {
            throw ScrubError(.unreadable, "cannot list \(root.path)")
        }
        var files = [(url: URL, relative: String)]()
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in enumerator {
            guard let values = try? url.resourceValues(forKeys: Set(keys)) else { continue }
            if values.isSymbolicLink == true {
                enumerator.skipDescendants()
                continue
            }
            guard values.isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path
            files.append((url, path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : url.lastPathComponent))
        }
        return files
    }
}

/// Why a scrub could not be done. Never carries a secret.
public struct ScrubError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidInput = "invalid_input"
            case credentialFound = "credential_found"
            case unreadable
            case unwritable
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A secret too short to search for, or a workspace that is not a directory.
        public static let invalidInput = Code(.invalidInput)
        /// A credential was found where none may stay; the workspace was deleted.
        public static let credentialFound = Code(.credentialFound)
        /// A file or directory could not be read or listed: the workspace was not checked.
        public static let unreadable = Code(.unreadable)
        /// A file could not be rewritten without its credential.
        public static let unwritable = Code(.unwritable)

        public var description: String { value.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong, without secrets.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
