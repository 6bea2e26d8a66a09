import Foundation

/// Runs `git clone` and `git fetch` with a credential that never reaches a command line.
///
/// RoboCo clones with `https://x-access-token:<PAT>@host/…`, so the token is in the `git` process's
/// argv (readable by every user in `/proc/<pid>/cmdline`) and then in the clone's `.git/config`. Here
/// the credential travels only in the environment of the `git` process (readable by its owner alone)
/// and reaches git through a credential helper:
///
/// - the helper is configured through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, so
///   neither it nor the credential is written to any configuration file;
/// - every credential helper configured elsewhere is reset first, and the helper answers only for the
///   protocol and host of the URL it was given, so a redirect or a submodule on another host does not
///   receive it (redirects are not followed either);
/// - `git` runs with a small environment of its own (nothing inherited that could trace requests or
///   ask on a terminal), `GIT_TERMINAL_PROMPT=0` and an askpass that fails, so a refused credential
///   is an error rather than a prompt that hangs;
/// - only `https` URLs are accepted, or `http` to a loopback address (tests, a local mirror); never
///   a URL with user info, an option-like argument or another transport.
///
/// ```swift
/// let runner = try GitCredentialRunner()
/// let credential = try GitCredentialRunner.Credential(username: "x-access-token", secret: token)
/// try await runner.clone(try GitRemote("https://gitlab.example/group/app.git"), into: workspace, credential: credential)
/// ```
public struct GitCredentialRunner: Sendable {
    /// A user name and a secret (a personal access token or password) for one clone or fetch.
    public struct Credential: Sendable, CustomStringConvertible {
        public let username: String
        let secret: SecureBytes

        /// Refuses a user name or secret that is empty or holds a line break, a NUL or another control
        /// character: git's credential protocol is line-based, so such a value could add fields.
        public init(username: String, secret: SecureBytes) throws(GitError) {
            guard !username.isEmpty, username.utf8.count <= 256, Self.isPlain(Array(username.utf8)) else {
                throw GitError(.invalidInput, "the git user name must be 1 to 256 characters without control characters")
            }
            let plain = secret.allBytesSatisfy { $0 >= 0x20 && $0 != 0x7F }
            guard secret.count > 0, plain else {
                throw GitError(.invalidInput, "the git credential is empty or holds a control character")
            }
            self.username = username
            self.secret = secret
        }

        private static func isPlain(_ bytes: [UInt8]) -> Bool {
            !bytes.contains { $0 < 0x20 || $0 == 0x7F }
        }

        public var description: String { "git credential for \(username) (redacted)" }
    }

    /// The finished run: what git printed on standard error (progress and warnings; never the secret,
    /// which git is never given on a command line or in a URL).
    public struct Outcome: Sendable {
        public let messages: String
    }

    /// The `git` executable's path.
    public let git: String
    /// How long one clone or fetch may take before it is stopped.
    public let timeout: Duration

    /// Finds `git` on `PATH` unless `git` names it.
    public init(git: String? = nil, timeout: Duration = .seconds(600)) throws(GitError) {
        if let git {
            guard FileManager.default.isExecutableFile(atPath: git) else { throw GitError(.gitMissing, "\(git) is not an executable") }
            self.git = git
        } else {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            let found = path.split(separator: ":").map { "\($0)/git" }.first { FileManager.default.isExecutableFile(atPath: $0) }
            guard let found else { throw GitError(.gitMissing, "git was not found on PATH; install git") }
            self.git = found
        }
        self.timeout = timeout
    }

    /// `git clone -- URL DIRECTORY`. `directory` must not exist yet, or be an empty directory.
    @discardableResult
    public func clone(_ remote: GitRemote, into directory: String, credential: Credential, branch: String? = nil) async throws(GitError)
        -> Outcome
    {
        var arguments = ["clone", "--quiet", "--no-local"]
        if let branch {
            guard Self.isSafeReference(branch) else { throw GitError(.invalidInput, "the branch name is not a plain git reference") }
            arguments += ["--branch", branch]
        }
        arguments += ["--", remote.url, directory]
        return try await invoke(arguments, in: nil, remote: remote, credential: credential).outcome
    }

    /// `git fetch` of `remoteName` in an existing clone. The remote's URL is read from the clone and
    /// must pass the same checks as a URL given to ``clone(_:into:credential:branch:)``.
    @discardableResult
    public func fetch(in directory: String, remoteName: String = "origin", credential: Credential) async throws(GitError) -> Outcome {
        guard Self.isSafeReference(remoteName) else { throw GitError(.invalidInput, "the remote name is not a plain git name") }
        let configured = try await invoke(["config", "--get", "remote.\(remoteName).url"], in: directory, remote: nil, credential: nil)
        let remote = try GitRemote(configured.output.trimmingCharacters(in: .whitespacesAndNewlines))
        return try await invoke(["fetch", "--quiet", "--prune", "--", remoteName], in: directory, remote: remote, credential: credential)
            .outcome
    }

    /// Names that git accepts as branch or remote names and that cannot be read as an option.
    static func isSafeReference(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != UInt8(ascii: "-"), name.utf8.count <= 255 else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")
        } && !name.contains("..")
    }

    /// The credential helper: answers `get` for the expected protocol and host only, ignores `store`
    /// and `erase`. `printf` is a shell built-in, so the credential is not in any argv even for an
    /// instant.
    static let helper =
        #"!f() { test "$1" = get || { cat >/dev/null; exit 0; }; p=; h=; "#
        + #"while IFS= read -r line && test -n "$line"; do case "$line" in "#
        + #"protocol=*) p="${line#protocol=}";; host=*) h="${line#host=}";; esac; done; "#
        + #"test "$p" = "$AGENTHOST_GIT_PROTOCOL" && test "$h" = "$AGENTHOST_GIT_HOST" || exit 0; "#
        + #"printf 'username=%s\npassword=%s\n' "$AGENTHOST_GIT_USERNAME" "$AGENTHOST_GIT_SECRET"; }; f"#

    static let passedThrough: Set<String> = [
        "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
    ]

    /// The whole environment to run another git command (a push, a submodule update) against
    /// `remote` with `credential`, with the same protections as ``clone(_:into:credential:branch:)``.
    /// Pass it as the process's entire environment, and nothing but options and the remote's name in
    /// its arguments.
    public func environment(for remote: GitRemote, credential: Credential) -> [String: String] {
        environment(remote: remote, credential: credential)
    }

    /// The whole environment `git` runs with. System and user git configuration are not read, and
    /// settings a workspace's own `.git/config` could use against a fetch are overridden.
    func environment(remote: GitRemote?, credential: Credential?) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        // Proxies and certificate locations an operator may need; nothing that traces or prompts.
        var environment = inherited.filter { Self.passedThrough.contains($0.key) }
        environment.merge([
            "PATH": inherited["PATH"] ?? "/usr/bin:/bin",
            "HOME": inherited["HOME"] ?? "/nonexistent",
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "false",
            "SSH_ASKPASS": "false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ALLOW_PROTOCOL": remote?.scheme ?? "https",
        ]) { _, ours in ours }
        let settings: [(String, String)] = [
            ("credential.helper", ""),  // forget every helper configured elsewhere
            ("credential.helper", Self.helper),
            ("credential.interactive", "never"),
            ("core.askPass", "false"),
            ("http.followRedirects", "false"),
            ("http.sslVerify", "true"),
            ("core.fsmonitor", "false"),
            ("core.hooksPath", "/dev/null"),
            ("protocol.allow", "never"),
            ("protocol.\(remote?.scheme ?? "https").allow", "always"),
        ]
        environment["GIT_CONFIG_COUNT"] = "\(settings.count)"
        for (index, setting) in settings.enumerated() {
            environment["GIT_CONFIG_KEY_\(index)"] = setting.0
            environment["GIT_CONFIG_VALUE_\(index)"] = setting.1
        }
        if let remote, let credential {
            environment["AGENTHOST_GIT_PROTOCOL"] = remote.scheme
            environment["AGENTHOST_GIT_HOST"] = remote.authority
            environment["AGENTHOST_GIT_USERNAME"] = credential.username
            environment["AGENTHOST_GIT_SECRET"] = credential.secret.unprotectedString()
        }
        return environment
    }

    private func invoke(
        _ arguments: [String], in directory: String?, remote: GitRemote?, credential: Credential?
    ) async throws(GitError) -> (outcome: Outcome, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: git)
        process.arguments = arguments
        process.environment = environment(remote: remote, credential: credential)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory, isDirectory: true) }
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished in
            exited.continuation.yield(finished.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            throw GitError(.gitFailed, "git could not be started: \(error.localizedDescription)")
        }
        // Drain both pipes while git runs, on threads of their own (not the cooperative pool's), so a
        // chatty git never blocks on a full pipe and a long clone holds no shared thread.
        async let standardOutput = Self.drain(output.fileHandleForReading)
        async let standardError = Self.drain(errors.fileHandleForReading)
        let deadline = Task { [timeout] in
            try await Task.sleep(for: timeout)
            process.terminate()
        }
        var status: Int32 = -1
        for await code in exited.stream { status = code }
        deadline.cancel()
        let (stdout, stderr) = await (standardOutput, standardError)
        let messages = String(decoding: stderr.prefix(64 * 1_024), as: UTF8.self)
        guard status == 0 else {
            if process.terminationReason == .uncaughtSignal {
                throw GitError(.gitFailed, "git \(arguments[0]) was stopped after \(timeout)")
            }
            let last = messages.split(whereSeparator: \.isNewline).last.map(String.init) ?? "no message"
            throw GitError(.gitFailed, "git \(arguments[0]) failed (exit \(status)): \(last)")
        }
        return (Outcome(messages: messages), String(decoding: stdout.prefix(64 * 1_024), as: UTF8.self))
    }
}

extension GitCredentialRunner {
    /// Everything `handle` yields until its end, read on a thread of its own.
    static func drain(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: handle.readDataToEndOfFile()) }.start()
        }
    }
}

/// A remote URL that ``GitCredentialRunner`` will use: `https://host[:port]/path`, or `http://` to a
/// loopback host; no user info, no option-like text, no other transport.
public struct GitRemote: Hashable, Sendable, CustomStringConvertible {
    public let url: String
    /// `https` or `http`.
    public let scheme: String
    /// `host[:port]` as written in the URL: what git's credential protocol calls the host.
    public let authority: String

    public init(_ url: String) throws(GitError) {
        guard url.utf8.count <= 2_048, !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw GitError(.invalidInput, "the git URL is too long or holds spaces or control characters")
        }
        let lowered = url.lowercased()
        let scheme: String
        if lowered.hasPrefix("https://") {
            scheme = "https"
        } else if lowered.hasPrefix("http://") {
            scheme = "http"
        } else {
            throw GitError(.invalidInput, "only https:// git URLs are accepted (http:// to a loopback address)")
        }
        let rest = url.dropFirst(scheme.count + 3)
        let authority = String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" })
        guard !authority.contains("@") else {
            throw GitError(.invalidInput, "the git URL holds user info; give the credential separately")
        }
        guard !authority.isEmpty, let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw GitError(.invalidInput, "the git URL has no host")
        }
        if scheme == "http" {
            let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
            guard bare == "localhost" || bare == "::1" || bare.hasPrefix("127.") else {
                throw GitError(.invalidInput, "http:// git URLs are accepted only for a loopback address; use https://")
            }
        }
        self.url = url
        self.scheme = scheme
        self.authority = authority
    }

    public var description: String { url }
}

/// Why a git run was refused or failed. Never holds the credential.
public struct GitError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidInput = "invalid_input"
            case gitMissing = "git_missing"
            case gitFailed = "git_failed"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A URL, user name, credential, branch or remote name that is refused.
        public static let invalidInput = Code(.invalidInput)
        /// No git executable to run.
        public static let gitMissing = Code(.gitMissing)
        /// git could not start, failed, or was stopped at its timeout.
        public static let gitFailed = Code(.gitFailed)

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
