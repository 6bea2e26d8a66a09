import Foundation
import Testing

/// `agenthost serve --config FILE` and SIGHUP on the real binary: a reload changes the rate limits
/// for the next request on a connection that stays open, and a broken file changes nothing.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ConfigReloadTests: AgentHostBinaryTests {
    let binary: URL

    init() throws {
        binary = try agentHostBinary()
    }

    @Test func sighupReloadsTheRateLimitsWithoutDroppingTheConnection() async throws {
        let directory = try TemporaryDirectory()
        let config = directory.path + "/agenthost.yaml"
        try "log_level: info\nrate_limit: [general=1000/1m]\n".write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try await run(["config", "check", "--config", config]).status == 0)

        let (launched, port) = try await serve(directory, ["--config", config])
        defer { launched.stopInBackground() }
        #expect(launched.output.contains("configuration file read"))
        let minted = try await run(["token", "mint", "--agent", "a", "--role", "member", "--data-dir", directory.path])
        let token = try #require(minted.stdout.split(separator: "\n").last.map(String.init))
        let connection = try RawConnection(port: port)
        func whoami() async throws -> RawResponse {
            #expect(await connection.send("GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n"))
            return try #require(await connection.readResponse(), "no answer on the kept connection")
        }
        func waitForLog(_ text: String, count: Int) async throws {
            try? await eventually("the log says \(text) \(count) times") {
                launched.output.components(separatedBy: text).count - 1 >= count
            }
            #expect(launched.output.components(separatedBy: text).count - 1 >= count, "\(launched.output)")
        }
        #expect(try await whoami().status == 200)

        // A file that does not parse: refused, and the limits in force stay.
        try "rate_limit: [general=1/1m\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(launched.process.processIdentifier, SIGHUP)
        try await waitForLog("reload refused", count: 1)
        #expect(try await whoami().status == 200)

        try "rate_limit: [general=1/1m]\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(launched.process.processIdentifier, SIGHUP)
        try await waitForLog("reloaded the keyring, the policy and the rate limits", count: 1)
        var statuses = [Int]()
        for _ in 0..<3 { statuses.append(try await whoami().status) }
        #expect(statuses.contains(429), "\(statuses)")
        #expect(launched.process.isRunning)
        // Both reloads are in the audit log, written at the latest when the server stops.
        await launched.stop()
        let database = directory.path + "/agenthost.sqlite"
        let stored = [database, database + "-wal"].compactMap { FileManager.default.contents(atPath: $0) }.reduce(Data(), +)
        #expect(stored.range(of: Data("server.reloaded".utf8)) != nil)
        #expect(stored.range(of: Data("server.reload_refused".utf8)) != nil)
    }
}
