import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// `agenthost run` as an operator runs it: the real binary launching a real command against a
/// real server on 127.0.0.1, without and with bubblewrap.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RunCommandTests: AgentHostBinaryTests {
    let binary: URL

    init() throws {
        binary = try agentHostBinary()
    }

    /// Whether bubblewrap can run here (`scripts/test` installs it).
    static let bubblewrapWorks: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// `GET path` with `token` on the server at `port`: the status and the JSON body.
    static func get(_ path: String, port: Int, token: String) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:])
    }

    /// An admin token minted with the server's keyring.
    func admin(_ directory: TemporaryDirectory) async throws -> String {
        let minted = try await run(["token", "mint", "--agent", "ops", "--role", "admin", "--data-dir", directory.path])
        return try #require(minted.stdout.split(separator: "\n").last.map(String.init))
    }

    /// Whether process `pid` runs (a zombie waiting to be reaped does not).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }

    /// The variables a command wrote with `env`, as `NAME=value` lines.
    static func variables(_ text: String) -> [String: String] {
        var variables: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            variables[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return variables
    }

    @Test func theCommandGetsACleanEnvironmentAndItsLeaseEndsWithIt() async throws {
        let directory = try TemporaryDirectory()
        let work = try TemporaryDirectory()
        let (server, port) = try await serve(directory)
        defer { server.stopInBackground() }
        let script =
            #"env > "$0/env.txt"; curl -s -H "Authorization: Bearer $AGENTHOST_TOKEN" "$AGENTHOST_URL/api/whoami" > "$0/who.json"; exit 7"#
        let ran = try await run(
            [
                "run", "--sandbox", "none", "--server", "http://127.0.0.1:\(port)", "--data-dir", directory.path, "--agent", "builder-7",
                "--role", "developer", "--", "sh", "-c", script, work.path,
            ], environment: ["SECRET_IN_PARENT": "s3cret-parent-value"])
        #expect(ran.status == 7, "the command's exit status: \(ran.stderr)")
        let environment = Self.variables(try String(contentsOfFile: work.path + "/env.txt", encoding: .utf8))
        #expect(environment["SECRET_IN_PARENT"] == nil)
        #expect(environment["AGENTHOST_URL"] == "http://127.0.0.1:\(port)")
        let lease = try #require(environment["AGENTHOST_TOKEN"])
        #expect(lease.hasPrefix("ah1."))
        #expect(!environment.values.contains { $0.contains("s3cret-parent-value") })
        let who = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work.path + "/who.json"))) as? [String: Any]
        #expect(who?["authenticated_by"] as? String == "lease")
        #expect(who?["agent_id"] as? String == "builder-7")

        // Over: the lease is refused, and the run says how it ended.
        let (status, _) = try await Self.get("/api/whoami", port: port, token: lease)
        #expect(status == 401)
        let (listed, body) = try await Self.get("/api/runs?agent=builder-7", port: port, token: try await admin(directory))
        #expect(listed == 200)
        let runs = try #require(body["runs"] as? [[String: Any]])
        #expect(runs.count == 1)
        #expect(runs.first?["state"] as? String == "ended")
        #expect(runs.first?["exit_status"] as? Int == 7)
        #expect(runs.first?["command"] as? String == "sh")
        #expect(runs.first?["started_by"] as? String == "agenthost-run", "the launcher's own short-lived token")
    }

    @Test func underBubblewrapTheCommandSeesNoSecretAndReachesOnlyAgentHost() async throws {
        let directory = try TemporaryDirectory()
        let work = try TemporaryDirectory()
        let (server, port) = try await serve(directory)
        defer { server.stopInBackground() }
        let arguments = [
            "run", "--server", "http://127.0.0.1:\(port)", "--data-dir", directory.path, "--agent", "builder-7", "--workdir", work.path,
        ]
        guard Self.bubblewrapWorks else {
            // Never a silent fallback: the refusal names the choice.
            let refused = try await run(arguments + ["--", "true"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("--sandbox none"), "\(refused.stderr)")
            return
        }
        // Another service of this machine, on its loopback: out of the sandbox's reach.
        let other = FakeUpstream()
        try await other.run { otherPort in
            let script = """
                cd "$0"
                curl -s -H "Authorization: Bearer $AGENTHOST_TOKEN" "$AGENTHOST_URL/api/whoami" > who.json
                ls -A "$1" > data.txt
                ls -A "$HOME" > home.txt
                touch "$HOME/written-in-home" || echo home-not-writable >> escapes.txt
                cat /proc/self/environ | tr '\\0' '\\n' > environ.txt
                touch /etc/agenthost-run-probe 2>/dev/null && echo wrote-etc >> escapes.txt
                curl -s -m 3 http://127.0.0.1:$2/ >/dev/null && echo reached-host-loopback >> escapes.txt
                curl -s -m 3 http://127.0.0.2:$2/ >/dev/null && echo reached-127.0.0.2 >> escapes.txt
                touch written-in-workdir
                """
            let ran = try await run(
                arguments + ["--", "sh", "-c", script, work.path, directory.path, "\(otherPort)"],
                environment: ["SECRET_IN_PARENT": "s3cret-parent-value"])
            #expect(ran.status == 0, "\(ran.stderr)")
            let who =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work.path + "/who.json"))) as? [String: Any]
            #expect(who?["authenticated_by"] as? String == "lease", "AgentHost is reachable through the bridge")
            #expect(try String(contentsOfFile: work.path + "/data.txt", encoding: .utf8).isEmpty, "the data directory is hidden")
            #expect(try String(contentsOfFile: work.path + "/home.txt", encoding: .utf8).isEmpty, "the caller's home is not visible")
            let home = try #require(ProcessInfo.processInfo.environment["HOME"])
            #expect(!FileManager.default.fileExists(atPath: home + "/written-in-home"), "the sandbox's home is its own")
            let environ = try String(contentsOfFile: work.path + "/environ.txt", encoding: .utf8)
            #expect(!environ.contains("SECRET_IN_PARENT") && !environ.contains("s3cret"))
            #expect((try? String(contentsOfFile: work.path + "/escapes.txt", encoding: .utf8)) == nil, "nothing escaped")
            #expect(FileManager.default.fileExists(atPath: work.path + "/written-in-workdir"))
            #expect(other.hits.withLock { $0.isEmpty }, "the host's other service was never reached")
        }
    }

    @Test func whereBubblewrapCannotRunTheRunIsRefusedNotUnconfined() async throws {
        let directory = try TemporaryDirectory()
        let (server, port) = try await serve(directory)
        defer { server.stopInBackground() }
        // A bubblewrap that fails, as one without user namespaces does.
        let refused = try await run(
            ["run", "--server", "http://127.0.0.1:\(port)", "--data-dir", directory.path, "--agent", "builder-7", "--", "touch", "/tmp/x"],
            environment: ["AGENTHOST_BWRAP": "/bin/false"])
        #expect(refused.status == 125)
        #expect(refused.stderr.contains("bubblewrap cannot run here"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--sandbox none"), "\(refused.stderr)")
        let (_, body) = try await Self.get("/api/runs", port: port, token: try await admin(directory))
        #expect((body["runs"] as? [[String: Any]])?.isEmpty == true, "no run was started")
    }

    @Test func killingTheLauncherKillsTheCommandAndTheLeaseLapses() async throws {
        let directory = try TemporaryDirectory()
        let work = try TemporaryDirectory()
        // The test asks until the lease lapses: more than the general scope's 100 a minute.
        let (server, port) = try await serve(directory, ["--lease-ttl", "3s", "--rate-limit", "general=100000/1m"])
        defer { server.stopInBackground() }
        let launcher = try launch([
            "run", "--sandbox", "none", "--server", "http://127.0.0.1:\(port)", "--data-dir", directory.path, "--agent", "builder-7",
            "--", "sh", "-c", #"echo "$$ $AGENTHOST_TOKEN" > "$0/child"; exec sleep 300"#, work.path,
        ])
        defer { launcher.stopInBackground() }
        var written: [Substring] = []
        try await eventually("the command starts") {
            written = ((try? String(contentsOfFile: work.path + "/child", encoding: .utf8)) ?? "").split(separator: " ")
            return written.count == 2
        }
        let child = try #require(Int32(written[0]))
        let lease = String(written[1]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await Self.get("/api/whoami", port: port, token: lease).0 == 200)

        kill(launcher.process.processIdentifier, SIGKILL)
        await launcher.finish()
        try await eventually("the command dies with its launcher") { !Self.isAlive(child) }
        try await eventually("the lease lapses within its TTL") {
            try await Self.get("/api/whoami", port: port, token: lease).0 == 401
        }
        let (status, body) = try await Self.get("/api/runs", port: port, token: try await admin(directory))
        #expect((body["runs"] as? [[String: Any]])?.first?["state"] as? String == "lapsed", "\(status) \(body)")
    }
}
