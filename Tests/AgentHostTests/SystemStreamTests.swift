import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import SecurityCore
import SecurityStore
import Synchronization
import Testing

@testable import AgentHost

/// `GET /ws/system`: who may open it, what it sends, and that it ends when its credential does.
/// Every connection goes to 127.0.0.1 and every wait is bounded.
@Suite(.timeLimit(.minutes(1)))
struct SystemStreamTests {
    static let quiet: Logger = {
        var logger = Logger(label: "ws-test")
        logger.logLevel = .critical
        return logger
    }()

    /// What a client saw: the JSON lines received, then how the server closed.
    struct Seen {
        var lines: [[String: String]] = []
        var close: WebSocketCloseFrame?
    }

    /// Opens the stream with `headers` and hands each received line to `onLine` until it returns
    /// false or the server closes; throws `WebSocketClientError.webSocketUpgradeFailed` when refused.
    static func watch(
        port: Int, path: String = "/ws/system", headers: HTTPFields, send: String? = nil,
        onLine: @escaping @Sendable ([String: String]) async throws -> Bool = { _ in true }
    ) async throws -> Seen {
        let lines = Mutex<[[String: String]]>([])
        let close = try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)\(path)", configuration: .init(additionalHeaders: headers), logger: quiet
        ) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 16).makeAsyncIterator()
            if let send { try await outbound.write(.text(send)) }
            while let message = try await messages.next() {
                guard case .text(let text) = message else { continue }
                #expect(text.hasSuffix("\n") && text.dropLast().allSatisfy { $0 != "\n" }, "one JSON object per line")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
                lines.withLock { $0.append(object) }
                if try await !onLine(object) { return }
            }
        }
        return Seen(lines: lines.withLock { $0 }, close: close)
    }

    /// Sends a bare WebSocket handshake for /ws/system with `headers` and returns the status code.
    static func handshake(port: Int, _ headers: [(String, String)]) async throws -> Int {
        let connection = try RawConnection(port: port)
        var request = "GET /ws/system HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        await connection.send(request + "\r\n")
        return await connection.readResponse()?.status ?? -1
    }

    @Test func anAdminSeesRefusalsAndIsCutOffWhenItsTokenIsRevoked() async throws {
        let fixture = try HostFixture()
        let admin = try fixture.token(agent: "ops", role: "admin")
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let seen = try await Self.watch(port: port, headers: [.authorization: "Bearer \(admin.token)"]) { line in
                switch line["type"] {
                case "hello":
                    #expect(line["subject"] == "ops" && line["role"] == "admin" && line["expires_at"] != nil)
                    // A failed authentication elsewhere arrives on the stream.
                    try await client.execute(uri: "/api/whoami", method: .get, headers: [.authorization: "Bearer not-a-token"]) { _ in }
                case "auth_failure":
                    #expect(line["code"] == "invalid_token" && line["request"] == "GET /api/whoami" && line["client"] == "127.0.0.1")
                    #expect(!line.values.contains { $0.contains("not-a-token") }, "no credential on the stream")
                    // Now revoke the stream's own token.
                    try await client.execute(
                        uri: "/api/tokens/revoke", method: .post,
                        headers: [.authorization: "Bearer \(admin.token)", .contentType: "application/json"],
                        body: ByteBuffer(string: #"{"token_id": "\#(admin.claims.tokenID.hex)"}"#)
                    ) { response in #expect(response.status == .noContent) }
                    // The stream's watch, asleep on the server's clock, checks at its next tick.
                    await fixture.clock.sleepers(atLeast: 1)
                    fixture.clock.advance(by: SystemStream.recheckInterval)
                default:
                    break
                }
                return true
            }
            #expect(seen.lines.map { $0["type"] }.prefix(2) == ["hello", "auth_failure"])
            #expect(seen.close?.closeCode == .policyViolation && seen.close?.reason == "token_revoked", "\(String(describing: seen.close))")
        }
    }

    @Test func aTokenInTheSubprotocolWorksAndTheStreamEndsWhenItExpires() async throws {
        let fixture = try HostFixture()
        let admin = try fixture.token(agent: "ops", role: "owner")
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let seen = try await Self.watch(
                port: port, headers: [.secWebSocketProtocol: "agenthost.v1, bearer.\(admin.token)"]
            ) { line in
                if line["type"] == "hello" {
                    await fixture.clock.sleepers(atLeast: 1)
                    fixture.clock.advance(by: .seconds(admin.claims.expiresAt - fixture.clock.now()))
                }
                return true
            }
            #expect(seen.lines.first?["type"] == "hello")
            #expect(seen.close?.closeCode == .policyViolation && seen.close?.reason == "token_expired")
        }
    }

    @Test func anythingTheClientSendsEndsTheStream() async throws {
        let fixture = try HostFixture()
        let admin = try fixture.token(agent: "ops", role: "admin").token
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let seen = try await Self.watch(port: port, headers: [.authorization: "Bearer \(admin)"], send: #"{"command": "revoke"}"#)
            #expect(seen.close?.closeCode == .unacceptableData && seen.close?.reason == "read_only")
        }
    }

    /// Each of these is refused before any WebSocket exists.
    @Test func upgradesWithoutAProvenAllowedCredentialAreRefused() async throws {
        let fixture = try HostFixture(corsOrigins: ["https://ops.example"])
        let admin = try fixture.token(agent: "ops", role: "admin").token
        let viewer = try fixture.token(agent: "v", role: "viewer").token
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let refused: [(String, String, HTTPFields)] = [
                ("no credential", "/ws/system", [:]),
                ("a bad token", "/ws/system", [.authorization: "Bearer \(admin.dropLast(2))xx"]),
                ("a token in the query string", "/ws/system?token=\(admin)&access_token=\(admin)", [:]),
                ("a viewer", "/ws/system", [.authorization: "Bearer \(viewer)"]),
                ("a second origin", "/ws/system", [.authorization: "Bearer \(admin)", .origin: "https://ops.example"]),
                ("a bearer protocol without agenthost.v1", "/ws/system", [.secWebSocketProtocol: "bearer.\(admin)"]),
                (
                    "two credentials", "/ws/system",
                    [.authorization: "Bearer \(admin)", .secWebSocketProtocol: "agenthost.v1, bearer.\(viewer)"]
                ),
                ("another path", "/ws/other", [.authorization: "Bearer \(admin)"]),
            ]
            for (name, path, headers) in refused {
                await #expect(throws: WebSocketClientError.webSocketUpgradeFailed, "\(name)") {
                    try await Self.watch(port: port, path: path, headers: headers)
                }
            }
            // Origins, with a bare handshake: a page on another site is refused; the allowed list,
            // this server's own origin, a non-browser client's ws:// origin and none at all are not.
            let bearer = "Bearer \(admin)"
            for (origin, status) in [
                ("https://evil.example", 400), ("null", 400), ("http://127.0.0.1:1", 400), ("https://ops.example.evil.example", 400),
                ("https://ops.example", 101), ("http://127.0.0.1:\(port)", 101), ("ws://127.0.0.1", 101),
            ] {
                #expect(try await Self.handshake(port: port, [("Authorization", bearer), ("Origin", origin)]) == status, "\(origin)")
            }
            #expect(try await Self.handshake(port: port, [("Authorization", bearer)]) == 101)
            #expect(try await Self.handshake(port: port, [("Origin", "https://ops.example")]) == 400)

            // A plain GET explains: 401 without a credential, 426 with one.
            try await client.execute(uri: "/ws/system", method: .get) { response in #expect(response.status == .unauthorized) }
            try await client.execute(uri: "/ws/system", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status.code == 426 && response.headers[.upgrade] == "websocket")
            }
        }
        let exposition = String(decoding: fixture.components.metrics.exposition(), as: UTF8.self)
        #expect(exposition.contains(#"agenthost_requests_total{outcome="refused",status="400"}"#), "refused upgrades are counted")
    }

    @Test func headerTrustIdentitiesDoNotOpenIt() async throws {
        let fixture = try HostFixture(mode: .headerTrust)
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let claimed: HTTPFields = [HTTPField.Name("X-Agent-ID")!: "ops", HTTPField.Name("X-Agent-Role")!: "admin"]
            try await client.execute(uri: "/api/whoami", method: .get, headers: claimed) { response in #expect(response.status == .ok) }
            await #expect(throws: WebSocketClientError.webSocketUpgradeFailed) {
                try await Self.watch(port: port, headers: claimed)
            }
            // A real token still opens it in this mode.
            let admin = try fixture.token(agent: "ops", role: "admin").token
            let seen = try await Self.watch(port: port, headers: [.authorization: "Bearer \(admin)"]) { _ in false }
            #expect(seen.lines.first?["type"] == "hello")
        }
    }

    @Test func keyRotationsAndRevocationsAreRelayedFromTheAuditLog() async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts()
        let trail = try #require(fixture.components.audit).trail
        let events = SystemEvents(clock: fixture.clock)
        let (id, lines) = try #require(events.subscribe())
        try await trail.append(AuditEvent(time: 1, actor: "cli", action: "keys.rotated", target: "k-2"))
        try await trail.append(AuditEvent(time: 2, actor: "user:alice", action: "user.login", target: "alice"))
        try await trail.append(AuditEvent(time: 3, actor: "user:root", action: "token.revoked", target: "agent:builder-7"))
        let last = try await events.relay(from: store, after: 0)
        let again = try await events.relay(from: store, after: last)
        try await store.close()
        #expect(last == 3 && again == last, "nothing is read twice")
        events.unsubscribe(id)
        var received = [[String: String]]()
        for await line in lines {
            received.append(try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]))
        }
        #expect(received.map { $0["type"] } == ["key_rotation", "revocation"])
        #expect(received.first?["target"] == "k-2" && received.last?["actor"] == "user:root" && received.last?["sequence"] == "3")
    }

    @Test func subscribersAreBoundedAndSlowOnesLoseTheOldest() async throws {
        let events = SystemEvents(bufferSize: 2, maximumSubscribers: 1)
        #expect(!events.isWatched)
        let (id, lines) = try #require(events.subscribe())
        #expect(events.subscribe() == nil && !events.hasRoom && events.isWatched)
        for index in 0..<5 { events.publish("auth_failure", ["code": "\(index)", "request": "GET /x\n{\"type\":\"forged\"}"]) }
        events.unsubscribe(id)
        #expect(!events.isWatched && events.hasRoom)
        var kept = [String]()
        for await line in lines { kept.append(line) }
        // The newest two, each one line however hostile its fields.
        #expect(kept.count == 2 && kept.allSatisfy { $0.filter { $0 == "\n" }.count == 1 })
        #expect(kept.first?.contains(#""code":"3""#) == true)
    }
}
