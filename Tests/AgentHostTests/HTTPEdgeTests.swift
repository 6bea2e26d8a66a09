import Foundation
import Testing

/// The HTTP edge of the real `agenthost serve` (``ConnectionLimits``), driven with raw sockets on
/// 127.0.0.1: oversized heads, stalled and idle connections, the connection cap, and a thousand
/// slowloris clients. Every wait is bounded and every server is stopped.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HTTPEdgeTests: AgentHostBinaryTests {
    let binary: URL

    init() throws {
        binary = try agentHostBinary()
        RawConnection.raiseFileLimit()
    }

    /// A request head of `fields` extra header fields of `valueBytes` bytes each.
    static func head(path: String = "/health", fields: Int = 0, valueBytes: Int = 8, end: Bool = true) -> String {
        var text = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for index in 0..<fields { text += "X-Field-\(index): \(String(repeating: "v", count: valueBytes))\r\n" }
        return text + (end ? "\r\n" : "")
    }

    /// The value of `name{reason="reason"}` in the server's metrics, read without a credential from
    /// this machine; 0 when absent.
    func closedCount(_ reason: String, port: Int) async throws -> Int {
        try await closedCount(reason, on: RawConnection(port: port))
    }

    /// Every reason's count of connections closed at the edge.
    func closedCounts(port: Int) async throws -> [String: Int] {
        let connection = try RawConnection(port: port)
        await connection.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try #require(await connection.readResponse())
        let prefix = #"agenthost_connections_closed_total{reason=""#
        var counts = [String: Int]()
        for line in response.body.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            guard let quote = rest.firstIndex(of: "\""), let space = rest.lastIndex(of: " ") else { continue }
            counts[String(rest[..<quote])] = Int(rest[rest.index(after: space)...])
        }
        return counts
    }

    /// The same, asked on a connection that is already open.
    func closedCount(_ reason: String, on connection: RawConnection) async throws -> Int {
        await connection.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try #require(await connection.readResponse())
        #expect(response.status == 200)
        let prefix = #"agenthost_connections_closed_total{reason="\#(reason)"} "#
        return response.body.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func oversizedHeadsAreAnsweredAndClosed() async throws {
        let directory = try TemporaryDirectory()
        let (server, port) = try await serve(directory)
        defer { server.stopInBackground() }

        // The reported hang: 200 KB of header got no answer at all.
        let cases: [(name: String, request: String, status: Int, code: String)] = [
            ("a 200 KB header", Self.head(fields: 1, valueBytes: 200_000), 431, "head_too_large"),
            ("33 KiB over several fields", Self.head(fields: 33, valueBytes: 1_000), 431, "head_too_large"),
            ("101 header fields", Self.head(fields: 100), 431, "too_many_header_fields"),
            ("a 9 KiB request line", Self.head(path: "/" + String(repeating: "a", count: 9 * 1_024)), 414, "request_line_too_long"),
        ]
        for (name, request, status, code) in cases {
            let connection = try RawConnection(port: port)
            await connection.send(request)
            let (bytes, closed) = await connection.readUntilClosed(timeout: .seconds(10))
            let response = try #require(RawResponse(bytes: bytes, requireBody: true), "\(name): \(bytes.count) bytes")
            #expect(response.status == status, "\(name)")
            #expect(response.headers["content-type"] == "application/problem+json", "\(name)")
            #expect(response.headers["connection"] == "close", "\(name)")
            #expect(response.body.contains(#""code":"\#(code)""#), "\(name): \(response.body)")
            #expect(closed, "\(name): the connection stays open")
        }
        // Just inside every limit is served: 99 more fields (100 with Host), 32 KiB of head in all.
        let inside = [Self.head(fields: 99), Self.head(fields: 1, valueBytes: 32 * 1_024 - 80)]
        for request in inside {
            #expect(request.utf8.count <= 32 * 1_024)
            let connection = try RawConnection(port: port)
            await connection.send(request)
            #expect(await connection.readResponse()?.status == 200)
        }
        #expect(try await closedCount("head_too_large", port: port) == 2)
        #expect(try await closedCount("too_many_header_fields", port: port) == 1)
        #expect(try await closedCount("request_line_too_long", port: port) == 1)
    }

    @Test func stalledAndIdleConnectionsAreClosedByTheirTimeouts() async throws {
        let directory = try TemporaryDirectory()
        let (server, port) = try await serve(directory, ["--head-timeout", "1s", "--idle-timeout", "1s", "--body-timeout", "1s"])
        defer { server.stopInBackground() }

        /// What the server sent `connection` before it closed it. The deadline only fails: when
        /// each timeout fires, to the nanosecond, is ConnectionGuardTests' to check on a manual clock.
        func closing(_ connection: RawConnection) async -> RawResponse? {
            let (bytes, closed) = await connection.readUntilClosed(timeout: .seconds(30))
            #expect(closed, "still open after 30 s")
            return RawResponse(bytes: bytes, requireBody: false)
        }

        // Connected, silent: closed after the head timeout, with nothing to say.
        let silent = try RawConnection(port: port)
        #expect(await closing(silent) == nil)

        // Half a head, then nothing (slowloris): 408, then closed.
        let stalled = try RawConnection(port: port)
        await stalled.send(Self.head(fields: 1, end: false))
        let slow = await closing(stalled)
        #expect(slow?.status == 408 && slow?.body.contains(#""code":"head_timeout""#) == true)

        // Kept alive after an answer, then idle: closed after the idle timeout.
        let idle = try RawConnection(port: port)
        await idle.send(Self.head())
        #expect(await idle.readResponse()?.status == 200)
        #expect(await closing(idle) == nil)

        // A body that stops arriving: closed after the body timeout.
        let body = try RawConnection(port: port)
        await body.send(
            "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        _ = await closing(body)

        #expect(try await closedCount("head_timeout", port: port) == 2)
        #expect(try await closedCount("idle_timeout", port: port) >= 1)
        #expect(try await closedCount("body_timeout", port: port) == 1)
    }

    @Test func pastTheConnectionCapNewConnectionsAreRefusedAtOnce() async throws {
        let directory = try TemporaryDirectory()
        let (server, port) = try await serve(directory, ["--max-connections", "8"])
        defer { server.stopInBackground() }
        var held = try (0..<8).map { _ in try RawConnection(port: port) }
        // Each one answered: each holds its slot (kept alive).
        for connection in held {
            await connection.send(Self.head())
            #expect(await connection.readResponse()?.status == 200)
        }

        let refused = try RawConnection(port: port)
        let (bytes, closed) = await refused.readUntilClosed(timeout: .seconds(20))
        let response = try #require(RawResponse(bytes: bytes, requireBody: true))
        #expect(response.status == 503 && response.headers["retry-after"] == "1")
        #expect(response.body.contains(#""code":"too_many_connections""#))
        #expect(closed, "the refused connection was left open")

        // A slot freed is a slot to use, once the server has seen the close: until then a new
        // connection is refused as the ninth, and counted.
        held.removeLast().close()
        var refusals = 1
        var next: RawConnection?
        try await eventually("the freed slot is used") {
            let connection = try RawConnection(port: port)
            await connection.send(Self.head())
            guard await connection.readResponse()?.status == 200 else {
                refusals += 1
                connection.close()
                return false
            }
            next = connection
            return true
        }
        // Asked on the connection that took the slot, so no ninth is refused meanwhile.
        #expect(try await closedCount("too_many_connections", on: try #require(next)) == refusals)
        held.removeAll()
    }

    /// The reported growth: 300 clients sending 1 MB heads took the server from 46 to 108 MB, and
    /// the heads were never answered. Now a thousand slowloris clients and 300 such heads neither
    /// stop a real client nor stay in memory: two more rounds of the same peak where the first did.
    @Test func aThousandStalledConnectionsNeitherStopServiceNorStayInMemory() async throws {
        let directory = try TemporaryDirectory()
        let (server, port) = try await serve(directory, ["--head-timeout", "3s"])
        defer { server.stopInBackground() }
        let pid = server.process.processIdentifier
        for _ in 0..<50 {
            let warm = try RawConnection(port: port)
            await warm.send(Self.head())
            _ = await warm.readResponse()
        }
        let baseline = residentBytes(of: pid)
        var rounds = [(stalled: Int, flooded: Int, after: Int)]()
        for _ in 0..<3 {
            rounds.append(try await stallAndFlood(port: port, pid: pid))
        }

        let mebibytes = { (bytes: Int) in bytes / (1 << 20) }
        print(
            "edge memory: baseline \(mebibytes(baseline)) MiB; "
                + rounds.map { "1,000 stalled \(mebibytes($0.stalled)), 300 floods \(mebibytes($0.flooded)), after \(mebibytes($0.after))" }
                .joined(separator: "; ") + " MiB"
        )
        // Every reason counted, so that a miscount says where the connections went.
        let counted = try await closedCounts(port: port)
        #expect(counted["head_timeout"] == 1_000 * rounds.count, "closed at the edge: \(counted)")
        #expect(counted["head_too_large"] == 300 * rounds.count, "closed at the edge: \(counted)")
        #expect(baseline > 0)
        // The memory figures are a goal checked where memory is measured, not in every run of
        // the suite (a loaded machine moves them): `scripts/loadtest --edge-memory` runs this test
        // with AGENTHOST_EDGE_MEMORY=1. Under AddressSanitizer (scripts/sanitize) freed memory
        // waits in quarantine and every allocation has red zones: the figures mean nothing there.
        let environment = ProcessInfo.processInfo.environment
        guard environment["AGENTHOST_EDGE_MEMORY"] == "1", environment["AGENTHOST_SANITIZER"] == nil else { return }
        for round in rounds {
            #expect(
                round.stalled - baseline < 48 << 20, "1,000 stalled heads grew the server by \(mebibytes(round.stalled - baseline)) MiB")
            #expect(round.flooded - baseline < 64 << 20, "300 refused 1 MB heads grew it by \(mebibytes(round.flooded - baseline)) MiB")
        }
        // A leak grows every round, so every round must peak where the first did. What is left
        // after a round is no measure of one: glibc returns freed memory only below the highest
        // allocation still live, and where that lands varies from run to run (seven rounds ended
        // at 78, 91, 82, 75, 74, 78 and 83 MiB while each peaked at 93-94). It stays under the peak.
        for round in rounds.dropFirst() {
            #expect(
                round.flooded - rounds[0].flooded < 8 << 20,
                "a later round peaked \(mebibytes(round.flooded - rounds[0].flooded)) MiB higher than the first")
            #expect(
                round.after < rounds[0].flooded + (4 << 20), "a round ended at \(mebibytes(round.after)) MiB, above the first round's peak")
        }
    }

    /// A thousand clients that stop halfway through their heads, a real client served meanwhile,
    /// then 300 clients that each send a 1 MB head: the server's resident memory at each step.
    func stallAndFlood(port: Int, pid: Int32) async throws -> (stalled: Int, flooded: Int, after: Int) {
        let start = ContinuousClock.now
        var stalled = [RawConnection]()
        for _ in 0..<1_000 {
            let connection = try RawConnection(port: port)
            await connection.send(Self.head(fields: 3, end: false))
            stalled.append(connection)
        }
        let served = try RawConnection(port: port)
        await served.send(Self.head())
        #expect(await served.readResponse(timeout: .seconds(20))?.status == 200, "a real client was not served")
        let during = residentBytes(of: pid)

        // Each is answered 408 and closed after the head timeout (3 s); the deadline only fails.
        var closedInTime = 0
        for connection in stalled {
            let left = ContinuousClock.now.duration(to: start + .seconds(60))
            if await connection.readUntilClosed(timeout: max(.milliseconds(1), left)).closed { closedInTime += 1 }
        }
        #expect(closedInTime == 1_000)
        stalled.removeAll()

        // Refused after 32 KiB, answered 431, and closed once the answer has lingered; the deadline only fails.
        let floodStart = ContinuousClock.now
        var flooding = [RawConnection]()
        let megabyte = Array(Self.head(fields: 1, valueBytes: 1 << 20).utf8)
        for _ in 0..<300 {
            let connection = try RawConnection(port: port)
            await connection.send(megabyte)
            flooding.append(connection)
        }
        var refused = 0, closed = 0
        for connection in flooding {
            let left = ContinuousClock.now.duration(to: floodStart + .seconds(60))
            let (bytes, ended) = await connection.readUntilClosed(timeout: max(.milliseconds(1), left))
            if RawResponse(bytes: bytes, requireBody: false)?.status == 431 { refused += 1 }
            if ended { closed += 1 }
        }
        #expect(refused == 300)
        #expect(closed == 300)
        let flooded = residentBytes(of: pid)
        flooding.removeAll()
        return (during, flooded, residentBytes(of: pid))
    }
}
