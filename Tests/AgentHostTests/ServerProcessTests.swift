import AgentHost
import AsyncHTTPClient
import HTTPTypes
import HummingbirdWSClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import SecurityCore
import SecurityStore
import Synchronization
import Testing

/// Runs the real `agenthost` binary: the contract users and scripts rely on. Traffic goes only to
/// 127.0.0.1, every wait is bounded, and the server is stopped at the end.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServerProcessTests: AgentHostBinaryTests {
    let binary: URL

    init() throws {
        binary = try agentHostBinary()
    }

    /// Lines a WebSocket client received.
    final class LineLog: Sendable {
        let lines = Mutex<[String]>([])
    }

    @Test func scrubCleansAWorkspaceAndDeletesOneThatLeaked() async throws {
        let directory = try TemporaryDirectory()
        #expect(try await run(["keys", "init", "--data-dir", directory.path]).status == 0)
        let token = "ghp_ScrubProcessToken0123456789"
        #expect(try await run(["vault", "put", "projects/p1/git-token", "--data-dir", directory.path], input: token + "\n").status == 0)
        let workspace = directory.path + "/ws"
        try FileManager.default.createDirectory(atPath: workspace + "/.git", withIntermediateDirectories: true)
        try "[remote \"origin\"]\n\turl = https://oauth2:\(token)@gitlab.example/app.git\n".write(
            toFile: workspace + "/.git/config", atomically: true, encoding: .utf8
        )
        let clean = try await run(["scrub", workspace, "--secret", "projects/p1/git-token", "--data-dir", directory.path])
        #expect(clean.status == 0 && clean.stdout.contains("cleaned .git/config") && clean.stdout.contains("clean: no secret found"))
        #expect(try String(contentsOfFile: workspace + "/.git/config", encoding: .utf8).contains("url = https://gitlab.example/app.git"))

        try Data(token.utf8).base64EncodedString().write(toFile: workspace + "/notes.txt", atomically: true, encoding: .utf8)
        let leaked = try await run(["scrub", workspace, "--secret", "projects/p1/git-token", "--data-dir", directory.path])
        #expect(leaked.status == 1 && leaked.stderr.contains("notes.txt"), "\(leaked.stderr)")
        #expect(!leaked.stderr.contains(token) && !leaked.stdout.contains(token))
        #expect(!FileManager.default.fileExists(atPath: workspace))

        let unknown = try await run(["scrub", directory.path, "--secret", "projects/none/git-token", "--data-dir", directory.path])
        #expect(unknown.status != 0 && unknown.stderr.contains("no secret is set at projects/none/git-token"))
        #expect(FileManager.default.fileExists(atPath: directory.path))
    }

    @Test func mintWithoutKeysFailsClearly() async throws {
        let directory = try TemporaryDirectory()
        let result = try await run(["token", "mint", "--agent", "a", "--role", "r", "--data-dir", directory.path])
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("AGENTHOST_TOKEN_KEY"))
        #expect(!KeyringFile(dataDirectory: directory.path).exists)
    }

    @Test func headerTrustRefusesANonLoopbackAddress() async throws {
        let directory = try TemporaryDirectory()
        let result = try await run(["serve", "--mode", "header-trust", "--host", "0.0.0.0", "--data-dir", directory.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--allow-untrusted-network"))
    }

    @Test func policyCommandsAndABrokenPolicyStopTheStart() async throws {
        let tested = try await run(["policy", "test"])
        #expect(tested.status == 0)
        #expect(tested.stdout.contains(" passed, 0 failed"))

        let explained = try await run(["policy", "explain", "--principal", "role=viewer,agent=v", "--request", "POST /projects/1"])
        #expect(explained.status == 0)
        #expect(explained.stdout.hasPrefix("DENY") && explained.stdout.contains("viewers-read-only"))

        let directory = try TemporaryDirectory()
        let broken = directory.path + "/broken.yaml"
        try "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /x, action: b}\n".write(
            toFile: broken, atomically: true, encoding: .utf8)
        let refused = try await run(["serve", "--port", "0", "--policy", broken, "--data-dir", directory.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("broken.yaml:4"))
        #expect(!KeyringFile(dataDirectory: directory.path).exists, "nothing is created before the policy loads")

        let badProxy = try await run(["serve", "--port", "0", "--trusted-proxy", "10.0.0.1/8", "--data-dir", directory.path])
        #expect(badProxy.status != 0 && badProxy.stderr.contains("--trusted-proxy"))
    }

    @Test func invalidIdentifiersAreRefused() async throws {
        let directory = try TemporaryDirectory()
        let result = try await run(["token", "mint", "--agent", "a b", "--role", "r", "--data-dir", directory.path])
        #expect(result.status != 0 && result.stdout.isEmpty)
    }

    @Test func firstStartMintAndCall() async throws {
        let directory = try TemporaryDirectory()
        let (launched, boundPort) = try await serve(directory)
        let server = launched.process
        defer { launched.stopInBackground() }

        let keyringPath = KeyringFile(dataDirectory: directory.path).path
        #expect(try permissions(of: keyringPath) == 0o600)
        let keyringText = try String(contentsOfFile: keyringPath, encoding: .utf8)
        let secret = try #require(keyringText.split(separator: "\"").drop { $0 != "secret" }.dropFirst(2).first)

        let minted = try await run([
            "token", "mint", "--agent", "builder-7", "--role", "developer", "--team", "core", "--ttl", "1h", "--data-dir", directory.path,
        ])
        #expect(minted.status == 0)
        let token = try #require(minted.stdout.split(separator: "\n").last.map(String.init))
        #expect(token.hasPrefix("ah1."))

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/whoami")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await client.execute(request, timeout: .seconds(10))
            #expect(response.status.code == 200)
            let body = try await response.body.collect(upTo: 1 << 16)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            #expect(json?["agent_id"] as? String == "builder-7")
            #expect(json?["team"] as? String == "core")

            let anonymous = try await client.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/whoami"), timeout: .seconds(10))
            #expect(anonymous.status.code == 401)
            // A refusal is logged with its path; a token in the path comes out redacted.
            let leaky = try await client.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/ghp_LeakedInThePath0123456789"), timeout: .seconds(10)
            )
            #expect(leaky.status.code == 401)
            let health = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/health"), timeout: .seconds(10))
            #expect(health.status.code == 200)

            // A credential set through the API is stored sealed in the data directory's database.
            let admin = try await run(["token", "mint", "--agent", "orchestrator", "--role", "admin", "--data-dir", directory.path])
            var put = HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/projects/p1/git-token")
            put.method = .PUT
            put.headers.add(name: "Authorization", value: "Bearer \(admin.stdout.split(separator: "\n").last ?? "")")
            put.headers.add(name: "Content-Type", value: "application/json")
            put.body = .bytes(ByteBuffer(string: #"{"token": "ghp_FirstStartPlaintext"}"#))
            let stored = try await client.execute(put, timeout: .seconds(10))
            #expect(stored.status.code == 204)

            // A user added on the command line logs in to the running server.
            let added = try await run(
                ["users", "add", "--username", "alice", "--role", "admin", "--data-dir", directory.path], input: "a long passphrase\n"
            )
            #expect(added.status == 0, "\(added.stderr)")
            let weak = try await run(
                ["users", "add", "--username", "bob", "--role", "admin", "--data-dir", directory.path], input: "short\n")
            #expect(weak.status != 0 && weak.stderr.contains("at least 12 characters"))
            var login = HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/login")
            login.method = .POST
            login.headers.add(name: "Content-Type", value: "application/json")
            login.body = .bytes(ByteBuffer(string: #"{"username": "alice", "password": "a long passphrase"}"#))
            let session = try await client.execute(login, timeout: .seconds(10))
            #expect(session.status.code == 200)
            let sessionBody = try await session.body.collect(upTo: 1 << 16)
            let sessionToken = try #require(
                (try JSONSerialization.jsonObject(with: Data(sessionBody.readableBytesView)) as? [String: Any])?["token"] as? String
            )
            var asAlice = HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/whoami")
            asAlice.headers.add(name: "Authorization", value: "Bearer \(sessionToken)")
            let whoami = try await client.execute(asAlice, timeout: .seconds(10))
            let whoamiBody = try await whoami.body.collect(upTo: 1 << 16)
            #expect(String(buffer: whoamiBody).contains(#""subject":"user:alice""#))

            // Onboarding from this machine needs no token.
            var onboard = HTTPClientRequest(url: "http://127.0.0.1:\(boundPort)/api/credentials")
            onboard.method = .POST
            onboard.headers.add(name: "Content-Type", value: "application/json")
            onboard.body = .bytes(
                ByteBuffer(string: #"{"credentials": [{"path": "users/alice/keys/anthropic", "secret": "sk-ant-Onboarded"}]}"#))
            let onboarded = try await client.execute(onboard, timeout: .seconds(10))
            #expect(onboarded.status.code == 204)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()

        server.terminate()
        await server.exited()
        let output = launched.output
        #expect(output.contains("created a new keyring"))
        #expect(output.contains("/api/ghp_[REDACTED]") && !output.contains("LeakedInThePath"))
        // The first start printed a setup token, on standard output only.
        #expect(output.contains("Setup token (single use"))
        #expect(output.split(separator: "\n").contains { $0.hasPrefix("ahs_") && $0.count == 64 })
        #expect(!output.contains("a long passphrase") && !output.contains("sk-ant-Onboarded"))
        #expect(!output.contains(token))
        #expect(!output.contains(String(secret)))
        #expect(!minted.stderr.contains(String(secret)))
        #expect(!output.contains("ghp_FirstStartPlaintext"))
        let database = directory.path + "/agenthost.sqlite"
        #expect(try permissions(of: database) == 0o600)
        #expect(!databaseHolds("ghp_FirstStartPlaintext", at: database))
        let listed = try await run(["vault", "list", "--data-dir", directory.path])
        #expect(listed.status == 0 && listed.stdout.contains("\nprojects/p1/git-token\tv1\t"))
        // The access-key pepper and the audit key are sealed in the vault with the credentials.
        #expect(listed.stdout.hasPrefix("agenthost/access-key-pepper\tv1\t"))
        #expect(listed.stdout.contains("\nagenthost/audit-key\tv1\t"))
        // The server's audit log (its start, the mints and the refusals, written at shutdown at the
        // latest) verifies, and holds no secret.
        let audited = try await run(["audit", "verify", "--data-dir", directory.path])
        #expect(audited.status == 0 && audited.stdout.hasPrefix("ok: "), "\(audited.stdout)\(audited.stderr)")
        // server.started, user.added, auth.failed, secret.set, user.login, credentials.onboarded at least.
        #expect((Int(audited.stdout.dropFirst(4).prefix { $0.isNumber }) ?? 0) >= 6, "\(audited.stdout)")
        #expect(!databaseHolds(token, at: database) && !databaseHolds("a long passphrase", at: database))
        #expect(!databaseHolds("sk-ant-Onboarded", at: database))
    }

    @Test func theOperatorStreamRelaysAKeyRotationAndEndsAtShutdown() async throws {
        let directory = try TemporaryDirectory()
        let (launched, boundPort) = try await serve(directory)
        let server = launched.process
        defer { launched.stopInBackground() }
        let admin = try await run(["token", "mint", "--agent", "ops", "--role", "admin", "--data-dir", directory.path])
        let token = try #require(admin.stdout.split(separator: "\n").last.map(String.init))

        let log = LineLog()
        let watching = Task {
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(boundPort)/ws/system",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(token)"]), logger: Logger(label: "ws-test")
            ) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    if case .text(let text) = message { log.lines.withLock { $0.append(text) } }
                }
            }
        }
        func waitFor(_ text: String) async throws -> Bool {
            (try? await eventually("the stream sends \(text)") { log.lines.withLock { $0.contains { $0.contains(text) } } }) != nil
        }
        #expect(try await waitFor(#""type":"hello""#))
        // A rotation made by the command line, a separate process, reaches the stream.
        let rotated = try await run(["keys", "rotate", "--data-dir", directory.path])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(try await waitFor(#""type":"key_rotation""#), "\(log.lines.withLock { $0 })")
        #expect(log.lines.withLock { $0 }.contains { $0.contains(#""action":"keys.rotated""#) && $0.contains(#""actor":"cli""#) })

        // Stopping the server closes the stream with a close frame, instead of waiting on it until
        // the connection is cut.
        server.terminate()
        let close = try await watching.value
        await server.exited()
        #expect(close?.closeCode == .normalClosure || close?.closeCode == .goingAway, "\(String(describing: close))")
        #expect(!launched.output.contains(token))
        let audited = try await run(["audit", "verify", "--data-dir", directory.path])
        #expect(audited.status == 0, "\(audited.stdout)")
    }

    /// SIGTERM is a graceful shutdown: a request whose body is still arriving is answered, no new
    /// connection is taken, the audit events queued so far are written, and the process exits 0.
    /// Every metric the executable serves has a `# HELP` line, and no label holds a raw path.
    @Test func metricsHaveHelpAndNoRawPaths() async throws {
        let directory = try TemporaryDirectory()
        let (launched, port) = try await serve(directory)
        defer { launched.stopInBackground() }
        let connection = try RawConnection(port: port)
        for request in ["GET /health", "GET /api/agents/ghp_NotAToken0123456789/tokens", "GET /metrics", "PROPFIND /health"] {
            #expect(await connection.send("\(request) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            _ = try #require(await connection.readResponse())
        }
        #expect(await connection.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        let metrics = try #require(await connection.readResponse())
        #expect(metrics.status == 200)
        let lines = metrics.body.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("# TYPE agenthost_requests_total") }, "\(metrics.body)")
        #expect(!metrics.body.contains("ghp_NotAToken"), "a raw path reached a label")
        // Request durations, by route template, method and status; a method outside HTTP's own is _OTHER.
        #expect(
            lines.contains(#"http_server_request_duration_seconds_count{route="/health",method="GET",status="200"} 1"#), "\(metrics.body)")
        #expect(lines.contains { $0.hasPrefix("http_server_request_duration_seconds_bucket{") && $0.contains(#"le="0.001""#) })
        #expect(
            lines.contains { $0.hasPrefix("http_server_request_duration_seconds_count{") && $0.contains(#"method="_OTHER",status="405""#) })
        #expect(!metrics.body.contains("PROPFIND"))
        for (index, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(index > 0 && lines[index - 1].hasPrefix("# HELP \(name) "), "no HELP for \(name)")
        }
    }

    @Test func sigtermDrainsTheRequestInFlightThenStops() async throws {
        let directory = try TemporaryDirectory()
        let (launched, port) = try await serve(directory)
        defer { launched.stopInBackground() }
        let body = #"{"username": "nobody", "password": "not the password"}"#
        let connection = try RawConnection(port: port)
        #expect(
            await connection.send(
                "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                    + body.prefix(10)
            ))
        // The head is in: the request is being handled (the scrape counts itself too).
        try await eventually("the request is in flight") {
            let scrape = try RawConnection(port: port)
            defer { scrape.close() }
            await scrape.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            guard let metrics = await scrape.readResponse() else { return false }
            let prefix = "http_server_active_requests "
            let line = metrics.body.split(separator: "\n").first { $0.hasPrefix(prefix) }
            return line.flatMap { Double($0.dropFirst(prefix.count)) } == 2
        }
        launched.process.terminate()
        // The shutdown has begun once no new connection is served.
        try await eventually("the server stops taking connections") {
            guard let late = try? RawConnection(port: port) else { return true }
            defer { late.close() }
            guard await late.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") else { return true }
            return await late.readResponse(timeout: .seconds(2)) == nil
        }
        #expect(launched.process.isRunning, "the server stopped with a request in flight")
        #expect(await connection.send(String(body.dropFirst(10))))
        let response = try #require(await connection.readResponse(), "no answer to the request in flight")
        #expect(response.status == 401 && response.body.contains("invalid_login"), "\(response.status) \(response.body)")
        try await eventually("the server stops once it has answered") { !launched.process.isRunning }
        #expect(launched.process.terminationStatus == 0, "\(launched.output)")
        // The failed login, queued by the request just answered, reached the audit log at shutdown.
        let audited = try await run(["audit", "verify", "--data-dir", directory.path])
        #expect(audited.status == 0 && audited.stdout.hasPrefix("ok: 2 records"), "\(audited.stdout)\(audited.stderr)")
    }

    /// A vault key swapped under a store it did not seal: the start stops and names the server
    /// key that does not open, instead of "set the secret again" (which would lose every API key).
    @Test func aServerKeyThatDoesNotOpenStopsTheStartAndIsNamed() async throws {
        let directory = try TemporaryDirectory()
        let (first, _) = try await serve(directory)
        await first.stop()
        let path = KeyringFile(dataDirectory: directory.path).path
        var keyring = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var vault = try #require(keyring["vault"] as? [String: Any])
        var keys = try #require(vault["keys"] as? [[String: Any]])
        let original = try #require(keys[0]["secret"] as? String)
        let replacement = SecureBytes.random(count: 32).base64URLEncoded()
        keys[0]["secret"] = replacement
        vault["keys"] = keys
        keyring["vault"] = vault
        try JSONSerialization.data(withJSONObject: keyring).write(to: URL(fileURLWithPath: path))

        let refused = try await run(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", directory.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the server key agenthost/access-key-pepper (vault record "), "\(refused.stderr)")
        #expect(refused.stderr.contains("checks every API key and device secret") && refused.stderr.contains("restore the keyring file"))
        #expect(!refused.stderr.contains(original) && !refused.stderr.contains(replacement))
        #expect(!refused.stdout.contains(original) && !refused.stdout.contains(replacement))
    }

    /// Whether the SQLite file (or its write-ahead log) holds `text` anywhere in its bytes.
    func databaseHolds(_ text: String, at path: String) -> Bool {
        [path, path + "-wal", path + "-journal"].contains { file in
            (try? Data(contentsOf: URL(fileURLWithPath: file)))?.range(of: Data(text.utf8)) != nil
        }
    }

    @Test func vaultCommandsPutListAndVerify() async throws {
        let directory = try TemporaryDirectory()
        let noKeys = try await run(["vault", "put", "projects/p1/git-token", "--data-dir", directory.path], input: "ghp_x\n")
        #expect(noKeys.status != 0 && noKeys.stderr.contains("AGENTHOST_VAULT_KEY"))
        _ = try AgentHostCLI.initializeKeyring(dataDirectory: directory.path)
        let put = try await run(["vault", "put", "projects/p1/git-token", "--data-dir", directory.path], input: "ghp_FromStdin\n")
        #expect(put.status == 0 && put.stdout.contains("sealed projects/p1/git-token under vault key version 1"))
        let empty = try await run(["vault", "put", "projects/p2/git-token", "--data-dir", directory.path], input: "")
        #expect(empty.status != 0 && empty.stderr.contains("empty"))
        let badPath = try await run(["vault", "put", "projects/../x", "--data-dir", directory.path], input: "ghp_y")
        #expect(badPath.status != 0)
        let listed = try await run(["vault", "list", "--data-dir", directory.path])
        #expect(listed.stdout.split(separator: "\n").count == 1 && !listed.stdout.contains("ghp_"))
        let verified = try await run(["vault", "verify", "--data-dir", directory.path])
        #expect(verified.status == 0 && verified.stdout.contains("checked 1 records (v1: 1); 0 do not open"))
        #expect(!databaseHolds("ghp_FromStdin", at: directory.path + "/agenthost.sqlite"))
        let unreachable = try await run(
            ["vault", "list", "--data-dir", directory.path],
            environment: ["AGENTHOST_DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable"]
        )
        #expect(unreachable.status != 0 && unreachable.stderr.contains("did not open") && !unreachable.stderr.contains("hunter2"))
    }

    @Test func aRotationKilledMidwayLosesNothingAndFinishesWhenRunAgain() async throws {
        let directory = try TemporaryDirectory()
        _ = try AgentHostCLI.initializeKeyring(dataDirectory: directory.path)
        let url = AgentHostCLI.databaseURL(option: nil, dataDirectory: directory.path, environment: [:])
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let total = 1_000
        try await AgentHostCLI.withVault(databaseURL: url, dataDirectory: directory.path, environment: [:], logger: quiet) { session in
            for index in 0..<total {
                try await session.credentials.set(
                    SecretPath("projects/p\(index)/git-token"), secret: SecureBytes(copying: Array("ghp_seed\(index)".utf8)))
            }
        }

        // Start a rotation of one record per transaction and kill -9 it after its first commit.
        let rotation = try launch(["vault", "rotate", "--batch-size", "1", "--data-dir", directory.path])
        // Killed as soon as its first commit is reported, before its second.
        await offThePool {
            _ = rotation.waitForOutput("resealed 1\n", within: .seconds(60))
            kill(rotation.process.processIdentifier, SIGKILL)
        }
        await rotation.finish()
        #expect(rotation.process.terminationReason == .uncaughtSignal, "the rotation finished before it could be killed")

        // Every record still opens with the keys on disk, some under each version.
        let (primary, report) = try await AgentHostCLI.withVault(
            databaseURL: url, dataDirectory: directory.path, environment: [:], logger: quiet
        ) { session in (session.keys.keys.primaryVersion, try await session.credentials.verifyAll()) }
        #expect(report.checked == total && report.failures.isEmpty)
        #expect(primary == 2)
        #expect(report.byKeyVersion[1, default: 0] > 0 && report.byKeyVersion[2, default: 0] > 0, "\(report.byKeyVersion)")

        // Running it again finishes the job without adding another key.
        let again = try await run(["vault", "rotate", "--data-dir", directory.path])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("vault key version 2 is primary") && again.stdout.contains("0 set again meanwhile"))
        // The finished rotation was recorded in the audit log, whose key (made then) is one more record.
        let verified = try await run(["vault", "verify", "--data-dir", directory.path])
        #expect(verified.status == 0 && verified.stdout.contains("checked \(total + 1) records (v2: \(total + 1)); 0 do not open"))
        let audited = try await run(["audit", "verify", "--data-dir", directory.path])
        #expect(audited.status == 0 && audited.stdout.hasPrefix("ok: 1 records verify; head 1 "), "\(audited.stdout)")
        #expect(!databaseHolds("ghp_seed", at: directory.path + "/agenthost.sqlite"))
    }
}
