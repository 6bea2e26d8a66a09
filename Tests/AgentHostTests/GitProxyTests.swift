import AgentHost
import Foundation
import HTTPTypes
import HummingbirdTesting
import InMemoryLogging
import Logging
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// `git clone` and `git push` through the proxy to `git http-backend` served over HTTPS with a
/// test CA (Tests/Fixtures/git_https_server.py), on 127.0.0.1. The agent's only credential is its
/// AgentHost token, which git's credential helper reads from the environment and sends as the
/// password of HTTP Basic; the forge accepts only the PAT that AgentHost injects.
@Suite(.timeLimit(.minutes(2)))
struct GitProxyTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let pat = "ghp_" + String(repeating: "Q7x", count: 12)

    struct Output {
        let status: Int32
        let output: String
    }

    /// Runs `executable` with `arguments`, standard error folded into the output, on a thread of
    /// its own: waiting for it on one of the few threads that run tasks could starve the server
    /// it talks to, which runs in this process.
    @discardableResult
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], in directory: String? = nil
    ) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(executable, arguments, environment: environment, in: directory) })
            }
        }
    }

    private static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String], in directory: String?
    ) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Bounded: a step that hangs fails the test instead of holding it. The bound only catches a
        // hang: the SDK script, Python's start-up included, took over 15 s on a loaded machine.
        process.arguments = ["timeout", "120", executable] + arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// A CA and a certificate for 127.0.0.1 that it signed, in `directory`.
    static func makeCertificates(in directory: String, environment: [String: String]) async throws {
        try """
        subjectAltName = IP:127.0.0.1
        basicConstraints = critical, CA:FALSE
        extendedKeyUsage = serverAuth
        """.write(toFile: directory + "/leaf.ext", atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-days", "2", "-subj", "/CN=AgentHost test CA",
            ],
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", "/CN=127.0.0.1",
            ],
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
                "-days", "2", "-extfile", "leaf.ext",
            ],
        ]
        for step in steps {
            let result = try await run("openssl", step, environment: environment, in: directory)
            try #require(result.status == 0, "openssl \(step.prefix(2).joined(separator: " ")): \(result.output)")
        }
    }

    @Test func cloneAndPushWithNothingButTheAgentToken() async throws {
        let directory = try TemporaryDirectory()
        let root = directory.path
        let home = root + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        // git with no system or user configuration but what the test gives it.
        let base = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": home, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Agent", "GIT_AUTHOR_EMAIL": "agent@example.invalid",
            "GIT_COMMITTER_NAME": "Agent", "GIT_COMMITTER_EMAIL": "agent@example.invalid",
        ]
        try await Self.makeCertificates(in: root, environment: base)
        // The forge's repository, with one commit.
        try FileManager.default.createDirectory(atPath: root + "/forge", withIntermediateDirectories: true)
        for step in [
            ["init", "-q", "--bare", "-b", "main", root + "/forge/repo.git"],
            ["-C", root + "/forge/repo.git", "config", "http.receivepack", "true"],
            ["init", "-q", "-b", "main", root + "/seed"],
        ] {
            try #require(try await Self.run("git", step, environment: base).status == 0)
        }
        try "hello\n".write(toFile: root + "/seed/README", atomically: true, encoding: .utf8)
        for step in [["add", "README"], ["commit", "-q", "-m", "first"], ["push", "-q", root + "/forge/repo.git", "main"]] {
            let result = try await Self.run("git", step, environment: base, in: root + "/seed")
            try #require(result.status == 0, "\(step): \(result.output)")
        }

        // The forge, over HTTPS with the test CA, accepting only the PAT.
        let portFile = root + "/forge.port"
        let forge = Process()
        forge.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        forge.arguments = [
            "python3", Self.packageRoot.path + "/Tests/Fixtures/git_https_server.py", portFile, root + "/server.pem",
            root + "/server.key", root + "/forge", Self.pat,
        ]
        forge.environment = base
        forge.standardOutput = FileHandle.nullDevice
        forge.standardError = FileHandle.nullDevice
        try forge.run()
        defer {
            // SIGKILL: a child of the test process inherits a signal mask that blocks SIGTERM.
            forge.killInBackground()
        }
        try? await eventually("the forge writes its port") { FileManager.default.fileExists(atPath: portFile) || !forge.isRunning }
        let forgePort = try #require(Int(try String(contentsOfFile: portFile, encoding: .utf8)), "the forge did not start")

        let (store, _) = try await Backend.sqlite.open()
        do {
            let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
            let clock = ManualTimeSource(1_800_000_000)
            let credentials = try await CredentialService.open(keys: keys, store: store, clock: clock)
            let upstream = try Upstream(
                name: "forge", url: "https://127.0.0.1:\(forgePort)", grant: "GIT_TOKEN", inject: "basic: x-access-token",
                methods: ["GET", "POST"],
                paths: ["/{repo}/info/refs", "/{repo}/git-upload-pack", "/{repo}/git-receive-pack"],
                certificateAuthorityFile: root + "/ca.pem")
            // The same forge without its CA: its certificate does not verify.
            let untrusted = try Upstream(
                name: "untrusted", url: "https://127.0.0.1:\(forgePort)", grant: "GIT_TOKEN", inject: "basic: x-access-token",
                methods: ["GET"], paths: ["/**"])
            let fixture = try HostFixture(credentials: credentials, clock: clock, configure: { $0.upstreams = [upstream, untrusted] })
            let path = try SecretPath("projects/p1/git-token")
            try await credentials.set(path, secret: SecureBytes(copying: Array(Self.pat.utf8)))
            try await credentials.grant(agent: AgentID("builder-7"), secret: path, env: "GIT_TOKEN", proxyOnly: true)
            let agentToken = try fixture.token(agent: "builder-7").token
            let app = AgentHost.application(
                configuration: fixture.configuration, components: fixture.components,
                logger: InMemoryLogHandler().logger)

            try await app.test(.live) { client in
                let port = try #require(client.port)
                let remote = "http://127.0.0.1:\(port)/proxy/forge/repo.git"
                // The agent's environment: its AgentHost token, and a credential helper that hands
                // it to git as a password. The helper is given on the command line, so no file holds it.
                var agent = base
                agent["AGENTHOST_TOKEN"] = agentToken
                let helper = [
                    "-c", "credential.helper=", "-c",
                    "credential.helper=!f() { echo username=agent; echo \"password=$AGENTHOST_TOKEN\"; }; f",
                ]
                let cloned = try await Self.run("git", helper + ["clone", "-q", remote, root + "/work"], environment: agent)
                #expect(cloned.status == 0, "clone: \(cloned.output)")
                #expect(try String(contentsOfFile: root + "/work/README", encoding: .utf8) == "hello\n")

                try "change\n".write(toFile: root + "/work/CHANGE", atomically: true, encoding: .utf8)
                for step in [["add", "CHANGE"], ["commit", "-q", "-m", "second"]] {
                    #expect(try await Self.run("git", step, environment: agent, in: root + "/work").status == 0)
                }
                let pushed = try await Self.run("git", helper + ["push", "-q", "origin", "main"], environment: agent, in: root + "/work")
                #expect(pushed.status == 0, "push: \(pushed.output)")
                let log = try await Self.run(
                    "git", ["--git-dir", root + "/forge/repo.git", "log", "--format=%s", "main"], environment: base)
                #expect(log.output.split(separator: "\n") == ["second", "first"])

                // A forge whose certificate the system's roots and the upstream's CA file do not vouch for is not called.
                let refused = try await client.execute(
                    uri: "/proxy/untrusted/repo.git/info/refs?service=git-upload-pack", method: .get,
                    headers: [.authorization: "Bearer \(agentToken)"])
                #expect(refused.status.code == 502 && (try? json(refused.body))?["code"] as? String == "upstream_unreachable")

                // Without the agent's token, the proxy refuses with a challenge git understands.
                let anonymous = try await Self.run(
                    "git", ["-c", "credential.helper=", "ls-remote", remote], environment: base)
                #expect(anonymous.status != 0)

                // The PAT is nowhere the agent can look: not in git's config or the clone, not in its environment.
                #expect(!agent.values.contains { $0.contains(Self.pat) })
                for file in try Self.files(under: root + "/work") + Self.files(under: home) {
                    let data = try Data(contentsOf: URL(fileURLWithPath: file))
                    #expect(data.range(of: Data(Self.pat.utf8)) == nil, "\(file) holds the PAT")
                }
                let config = try await Self.run("git", ["config", "--list", "--show-origin"], environment: agent, in: root + "/work")
                #expect(!config.output.contains(Self.pat) && !config.output.contains(agentToken))
            }
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    /// Every regular file under `directory`.
    static func files(under directory: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        return enumerator.compactMap { entry in
            let path = directory + "/" + (entry as? String ?? "")
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue ? path : nil
        }
    }
}
