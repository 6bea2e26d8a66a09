import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// `serve --otlp-endpoint`: the real binary sends spans and metrics to a collector on 127.0.0.1
/// (OTLP/HTTP with JSON bodies, so they can be read here), and no credential reaches them.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct OTLPExportTests: AgentHostBinaryTests {
    let binary: URL

    init() throws {
        binary = try agentHostBinary()
    }

    /// What the collector received: each body, by path.
    final class Received: Sendable {
        let bodies = Mutex<[String: [String]]>([:])

        func all(_ path: String) -> String { bodies.withLock { ($0[path] ?? []).joined(separator: "\n") } }
    }

    static func collector(_ received: Received) -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/{signal}") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 16 << 20)
            received.bodies.withLock { $0[request.uri.path, default: []].append(String(buffer: body)) }
            return .ok
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test func spansAndMetricsReachTheCollectorWithoutCredentials() async throws {
        let received = Received()
        let forged = "ah1.AAEBAAZrLXRlc3QACWJ1aWxkZXItNwAJZGV2ZWxvcGVy.OTLPNeverSeesThisTag0123456789abcdefghijkl"
        try await Self.collector(received).test(.live) { client in
            let directory = try TemporaryDirectory()
            let (launched, port) = try await serve(
                directory, ["--otlp-endpoint", "http://127.0.0.1:\(client.port!)"],
                environment: [
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100",
                    "OTEL_METRIC_EXPORT_INTERVAL": "300",
                ])
            defer { launched.stopInBackground() }
            let connection = try RawConnection(port: port)
            for request in [
                "GET /health?token=otlp-query-secret&after=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(forged)\r\n\r\n",
            ] {
                #expect(await connection.send(request))
                _ = try #require(await connection.readResponse())
            }
            // The exporter's batches are sent on its own schedule: the expectations below say what is missing.
            try? await eventually("the traces and metrics reach the collector") {
                received.all("/v1/traces").contains("/api/whoami")
                    && received.all("/v1/metrics").contains("http_server_request_duration_seconds")
            }
            let traces = received.all("/v1/traces"), metrics = received.all("/v1/metrics")
            #expect(traces.contains("/health") && traces.contains("/api/whoami"), "\(traces.prefix(2000))\n\(launched.output)")
            #expect(traces.contains("token=REDACTED"), "\(traces.prefix(2000))")
            #expect(metrics.contains("http_server_request_duration_seconds") && metrics.contains("agenthost_requests_total"))
            for text in [traces, metrics] {
                #expect(!text.contains("otlp-query-secret") && !text.contains("OTLPNeverSeesThisTag"))
            }
        }
    }
}
