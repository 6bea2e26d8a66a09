import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
import SecurityStore
import Synchronization
import Testing

/// Clones and fetches through `git http-backend` behind Basic authentication on 127.0.0.1, and
/// watches every process's argv while they run: the credential must reach the server and nothing
/// else (not argv, not the clone).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct GitCredentialTests {
    let username = "oauth2"
    let token = Self.randomToken()

    static func randomToken() -> String {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return "glpat-" + String((0..<24).map { _ in letters.randomElement() ?? "x" })
    }

    /// Runs `git` with `arguments` (no credential involved) and fails the test on a non-zero exit.
    @discardableResult
    static func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try GitCredentialRunner().git)
        process.arguments =
            [
                "-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main", "-c",
                "commit.gpgsign=false",
            ] + arguments
        process.environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
        ]
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CommandFailed(arguments) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct CommandFailed: Error {
        let arguments: [String]
        init(_ arguments: [String]) { self.arguments = arguments }
    }

    /// A bare repository `repo.git` under a fresh root, with one commit on `main`, and the working
    /// copy that made it (to push more commits).
    static func repositories() throws -> (root: TemporaryDirectory, seed: String) {
        let root = try TemporaryDirectory()
        let seed = root.path + "/seed"
        try git(["init", "--quiet", "--bare", root.path + "/repos/repo.git"])
        try git(["init", "--quiet", seed])
        try "hello\n".write(toFile: seed + "/README", atomically: true, encoding: .utf8)
        try git(["add", "README"], in: seed)
        try git(["commit", "--quiet", "-m", "first"], in: seed)
        try git(["push", "--quiet", root.path + "/repos/repo.git", "HEAD:refs/heads/main"], in: seed)
        try git(["--git-dir", root.path + "/repos/repo.git", "symbolic-ref", "HEAD", "refs/heads/main"])
        return (root, seed)
    }

    /// Every process (other than the caller's) whose command line holds `needle`, as "pid: argv".
    static func argvHolding(_ needle: [UInt8]) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var hits = [String]()
        for pid in entries where pid.allSatisfy(\.isNumber) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let bytes = [UInt8](data)
            guard bytes.count >= needle.count else { continue }
            for start in 0...(bytes.count - needle.count) where bytes[start..<start + needle.count].elementsEqual(needle) {
                hits.append("\(pid): " + String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self))
                break
            }
        }
        return hits
    }

    /// Scans every process's argv every few milliseconds until stopped, on a thread of its own: the
    /// scans would otherwise keep a thread of the shared pool busy (see `offThePool`).
    struct ArgvWatch {
        final class Seen: Sendable {
            let state = Mutex<(hits: [String], scans: Int, stopping: Bool)>(([], 0, false))
            let ended = DispatchSemaphore(value: 0)
        }
        let seen = Seen()

        init(_ needle: String) {
            let seen = self.seen
            let bytes = Array(needle.utf8)
            Thread {
                // Bounded like every wait here, should a test fail before it stops the watch.
                let deadline = ContinuousClock.now + .seconds(120)
                while !seen.state.withLock({ $0.stopping }), ContinuousClock.now < deadline {
                    let found = GitCredentialTests.argvHolding(bytes)
                    seen.state.withLock {
                        $0.hits += found
                        $0.scans += 1
                    }
                    usleep(2_000)
                }
                seen.ended.signal()
            }.start()
        }

        func stop() async -> (hits: [String], scans: Int) {
            seen.state.withLock { $0.stopping = true }
            let seen = seen
            await offThePool { seen.ended.wait() }
            return seen.state.withLock { ($0.hits, $0.scans) }
        }
    }

    /// What the git server saw: statuses answered, and argv holding the secret at request time.
    final class ServerLog: Sendable {
        let statuses = Mutex<[Int]>([])
        let argvHits = Mutex<[String]>([])
    }

    /// A router serving `root/repos` over git's smart HTTP protocol (git http-backend as CGI) at
    /// `/git/…`, to `username` with `secret` only.
    static func server(root: String, username: String, secret: String, log: ServerLog) -> some ApplicationProtocol {
        let router = Router()
        let expected = "Basic " + Data("\(username):\(secret)".utf8).base64EncodedString()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            log.argvHits.withLock { $0 += argvHolding(Array(secret.utf8)) }
            guard request.headers[.authorization] == expected else {
                log.statuses.withLock { $0.append(401) }
                return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"git\""])
            }
            let body = try await request.body.collect(upTo: 16 << 20)
            let response = try await cgi(request, body: Data(body.readableBytesView), root: root + "/repos", user: username)
            log.statuses.withLock { $0.append(Int(response.status.code)) }
            return response
        }
        router.get("/git/**", use: handler)
        router.post("/git/**", use: handler)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    /// Runs git http-backend for one request.
    static func cgi(_ request: Request, body: Data, root: String, user: String) async throws -> Response {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try GitCredentialRunner().git)
        process.arguments = ["http-backend"]
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": request.method.rawValue, "PATH_INFO": String(request.uri.path.dropFirst("/git".count)),
            "QUERY_STRING": request.uri.query ?? "", "CONTENT_LENGTH": "\(body.count)",
        ]
        if let type = request.headers[.contentType] { environment["CONTENT_TYPE"] = type }
        if let encoding = request.headers[.contentEncoding] { environment["HTTP_CONTENT_ENCODING"] = encoding }
        if let name = HTTPField.Name("Git-Protocol"), let version = request.headers[name] { environment["HTTP_GIT_PROTOCOL"] = version }
        process.environment = environment
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let writer = input.fileHandleForWriting
        Thread {
            writer.write(body)
            try? writer.close()
        }.start()
        let data = await offThePool { output.fileHandleForReading.readDataToEndOfFile() }
        await process.exited()
        let bytes = [UInt8](data)
        let separator = Array("\r\n\r\n".utf8)
        let end = (0...(max(bytes.count - 4, 0))).first { bytes.count >= 4 && Array(bytes[$0..<$0 + 4]) == separator } ?? bytes.count
        var status = HTTPResponse.Status.ok
        var headers = HTTPFields()
        for line in String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name.lowercased() == "status" {
                status = .init(code: Int(value.prefix(3)) ?? 500)
            } else if let field = HTTPField.Name(name) {
                headers[field] = value
            }
        }
        let payload = end + 4 <= bytes.count ? Array(bytes[(end + 4)...]) : []
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: payload)))
    }

    func credential(_ secret: String) throws -> GitCredentialRunner.Credential {
        try GitCredentialRunner.Credential(username: username, secret: SecureBytes(copying: Array(secret.utf8)))
    }

    @Test func theWatchSeesASecretInArgv() async throws {
        // The control for the checks below: a process with the secret in argv is found.
        let watch = ArgvWatch(token)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // A shell that waits on its input, never written: its argv holds the secret until it is killed.
        process.arguments = ["-c", "read line", token]
        let input = Pipe()
        process.standardInput = input
        try process.run()
        try? await eventually("the watch sees the secret in argv") { watch.seen.state.withLock { !$0.hits.isEmpty } }
        let seen = await watch.stop()
        // SIGKILL: a child of the test process inherits a signal mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        await process.exited()
        try input.fileHandleForWriting.close()
        #expect(seen.hits.contains { $0.contains(token) } && seen.scans > 0)
    }

    @Test func cloneAndFetchSendTheCredentialOnlyToTheServer() async throws {
        let (root, seed) = try Self.repositories()
        let log = ServerLog()
        try await Self.server(root: root.path, username: username, secret: token, log: log).test(.live) { client in
            let port = try #require(client.port)
            let runner = try GitCredentialRunner(timeout: .seconds(60))
            let remote = try GitRemote("http://127.0.0.1:\(port)/git/repo.git")
            let clone = root.path + "/clone"

            let watch = ArgvWatch(token)
            try await runner.clone(remote, into: clone, credential: credential(token))
            #expect(try String(contentsOfFile: clone + "/README", encoding: .utf8) == "hello\n")

            try "more\n".write(toFile: seed + "/NEXT", atomically: true, encoding: .utf8)
            try Self.git(["add", "NEXT"], in: seed)
            try Self.git(["commit", "--quiet", "-m", "second"], in: seed)
            try Self.git(["push", "--quiet", root.path + "/repos/repo.git", "HEAD:refs/heads/main"], in: seed)
            try await runner.fetch(in: clone, credential: credential(token))
            #expect(try Self.git(["rev-parse", "origin/main"], in: clone) == Self.git(["rev-parse", "HEAD"], in: seed))
            let seen = await watch.stop()

            // The server asked, then got the credential: git had it, through the helper alone.
            let statuses = log.statuses.withLock { $0 }
            #expect(statuses.contains(401) && statuses.contains(200), "\(statuses)")
            #expect(seen.scans > 0)
            #expect(seen.hits.isEmpty, "the secret was in argv: \(seen.hits)")
            #expect(log.argvHits.withLock { $0 }.isEmpty)
            // Nothing of it in the clone: the URL has no user info and no helper was written.
            let config = try String(contentsOfFile: clone + "/.git/config", encoding: .utf8)
            #expect(config.contains("url = http://127.0.0.1:\(port)/git/repo.git") && !config.contains("helper"))
            let scrubbed = try WorkspaceScrubber(secrets: [SecureBytes(copying: Array(token.utf8))]).scrub(clone)
            #expect(scrubbed.finding == nil && scrubbed.cleaned.lines == 0)
        }
    }

    @Test func aWrongCredentialFailsAtOnceWithoutLeakingIt() async throws {
        let (root, _) = try Self.repositories()
        let log = ServerLog()
        let wrong = Self.randomToken()
        try await Self.server(root: root.path, username: username, secret: token, log: log).test(.live) { client in
            let port = try #require(client.port)
            let runner = try GitCredentialRunner(timeout: .seconds(60))
            let clone = root.path + "/clone"
            do {
                try await runner.clone(try GitRemote("http://127.0.0.1:\(port)/git/repo.git"), into: clone, credential: credential(wrong))
                Issue.record("a clone with a wrong credential succeeded")
            } catch let error as GitError {
                #expect(error.reason.contains("git clone failed") && !error.reason.contains(wrong), "\(error.reason)")
            }
            #expect(!FileManager.default.fileExists(atPath: clone + "/README"))
            #expect(!log.statuses.withLock { $0 }.contains(200))
        }
    }

    /// Runs the `agenthost` binary without blocking a thread the in-process git server needs.
    static func agenthost(_ arguments: [String], input: String = "") async throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let binary = try #require(
            [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("agenthost") }
                .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        )
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AGENTHOST_") }
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = {
            exited.continuation.yield($0.terminationStatus)
            exited.continuation.finish()
        }
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        async let stdout = drain(out.fileHandleForReading)
        async let stderr = drain(err.fileHandleForReading)
        var status: Int32 = -1
        for await code in exited.stream { status = code }
        return (status, await stdout, await stderr)
    }

    static func drain(_ handle: FileHandle) async -> String {
        await offThePool { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) }
    }

    @Test func theCommandClonesWithAVaultSecretAndRecordsIt() async throws {
        let (root, _) = try Self.repositories()
        let data = root.path + "/data"
        #expect(try await Self.agenthost(["keys", "init", "--data-dir", data]).status == 0)
        #expect(try await Self.agenthost(["vault", "put", "projects/p1/git-token", "--data-dir", data], input: token + "\n").status == 0)
        let log = ServerLog()
        try await Self.server(root: root.path, username: username, secret: token, log: log).test(.live) { client in
            let port = try #require(client.port)
            let url = "http://127.0.0.1:\(port)/git/repo.git"
            let watch = ArgvWatch(token)
            let cloned = try await Self.agenthost([
                "git", "clone", url, root.path + "/ws", "--secret", "projects/p1/git-token", "--username", username, "--data-dir", data,
            ])
            let seen = await watch.stop()
            #expect(cloned.status == 0, "\(cloned.stderr)")
            #expect(cloned.stdout.contains("cloned \(url) into"))
            #expect(seen.hits.isEmpty, "the secret was in argv: \(seen.hits)")
            #expect(!(cloned.stdout + cloned.stderr).contains(token))
            #expect(FileManager.default.fileExists(atPath: root.path + "/ws/README"))

            let fetched = try await Self.agenthost([
                "git", "fetch", root.path + "/ws", "--secret", "projects/p1/git-token", "--username", username, "--data-dir", data,
            ])
            #expect(fetched.status == 0, "\(fetched.stderr)")

            let withUserInfo = try await Self.agenthost([
                "git", "clone", "http://oauth2:x@127.0.0.1:\(port)/git/repo.git", root.path + "/other", "--secret", "projects/p1/git-token",
                "--data-dir", data,
            ])
            #expect(withUserInfo.status != 0 && withUserInfo.stderr.contains("user info"))
            let unknown = try await Self.agenthost([
                "git", "clone", url, root.path + "/other", "--secret", "projects/none/token", "--data-dir", data,
            ])
            #expect(unknown.status != 0 && unknown.stderr.contains("no secret is set at projects/none/token"))

            let audit = try await Self.agenthost(["audit", "verify", "--data-dir", data])
            #expect(audit.status == 0, "\(audit.stderr)")
        }
        // The releases, the clone and the fetch are in the audit chain.
        let store = try await SQLSecurityStore.openSQLite(path: data + "/agenthost.sqlite")
        let records = try await store.auditRecords(after: 0, limit: 100, actor: nil, action: nil)
        try await store.close()
        let actions = records.map(\.event.action)
        #expect(
            actions.filter { $0 == "secret.released" }.count == 2 && actions.contains("git.clone") && actions.contains("git.fetch"),
            "\(actions)")
        let clone = try #require(records.first(where: { $0.event.action == "git.clone" }))
        #expect(clone.event.details["outcome"] == "clean" && clone.event.target == root.path + "/ws")
    }
}
