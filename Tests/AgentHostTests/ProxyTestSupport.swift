import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SecurityCore
import SecurityStore
import ServiceLifecycle
import StoreTestSupport
import Synchronization

/// A fake upstream on 127.0.0.1 for the proxy's tests: it records what each request brought and
/// answers in the ways an upstream may, echoing the key it was given among them.
final class FakeUpstream: Sendable {
    /// The headers of each request it received, in order.
    let received = Mutex<[HTTPFields]>([])
    /// How many times each path was called.
    let hits = Mutex<[String: Int]>([:])

    /// The key the upstream was given: the injected header, `x-api-key` or `authorization`.
    static func key(_ request: Request) -> String {
        request.headers[HTTPField.Name("x-api-key")!] ?? request.headers[.authorization] ?? ""
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(Recorder(upstream: self))
        // The key back in a header, in JSON, and in hex.
        router.get("/v1/echo") { request, _ in
            let key = Self.key(request)
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[HTTPField.Name("x-echo")!] = key
            let hex = key.utf8.map { String(format: "%02x", $0) }.joined()
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"you_sent":"\#(key)","hex":"\#(hex)"}"#)))
        }
        // The names of the headers it received, one per line.
        router.get("/v1/headers") { request, _ in
            request.headers.map { $0.name.canonicalName + ": " + $0.value }.joined(separator: "\n")
        }
        // The key split across two pieces of a chunked body.
        router.get("/v1/split") { request, _ in
            let key = Array(Self.key(request).utf8)
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: Array("before ".utf8) + key.prefix(6)))
                    try await Task.sleep(for: .milliseconds(50))
                    try await writer.write(ByteBuffer(bytes: key.dropFirst(6) + Array(" after".utf8)))
                    try await writer.finish(nil)
                })
        }
        // Server-sent events: `count` of them, `interval` milliseconds apart.
        router.get("/v1/sse") { request, _ in
            let count = request.uri.queryParameters.get("count", as: Int.self) ?? 3
            let interval = request.uri.queryParameters.get("interval", as: Int.self) ?? 10
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    for index in 0..<count {
                        try await writer.write(ByteBuffer(string: "data: event \(index)\n\n"))
                        try await Task.sleep(for: .milliseconds(interval))
                    }
                    try await writer.finish(nil)
                })
        }
        // How many body bytes came.
        router.post("/v1/upload") { request, _ in
            var count = 0
            for try await piece in request.body { count += piece.readableBytes }
            return "\(count)"
        }
        router.get("/v1/redirect") { _, _ in
            Response(status: .found, headers: [.location: "/v1/echo"])
        }
        router.get("/v1/gzip") { _, _ in
            Response(status: .ok, headers: [.contentEncoding: "gzip"], body: .init(byteBuffer: ByteBuffer(bytes: [0x1f, 0x8b, 0, 0])))
        }
        router.get("/v1/slow") { _, _ in
            try await Task.sleep(for: .seconds(3))
            return "late"
        }
        router.get("/v1/status/{code}") { _, context in
            Response(status: .init(code: context.parameters.get("code", as: Int.self) ?? 500))
        }
        return router
    }

    struct Recorder: RouterMiddleware {
        let upstream: FakeUpstream

        func handle(
            _ request: Request, context: BasicRequestContext, next: (Request, BasicRequestContext) async throws -> Response
        ) async throws -> Response {
            upstream.received.withLock { $0.append(request.headers) }
            upstream.hits.withLock { $0[request.uri.path, default: 0] += 1 }
            return try await next(request, context)
        }
    }

    /// Runs the upstream on a free port of 127.0.0.1 while `body` runs with it.
    func run<Result: Sendable>(_ body: @Sendable (Int) async throws -> Result) async throws -> Result {
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "fake-upstream") { _ in SwiftLogNoOpLogHandler() }
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            let deadline = ContinuousClock.now + .seconds(20)
            while port.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            guard let bound = port.withLock({ $0 }) else { throw FakeUpstreamError() }
            defer { group.cancelAll() }
            return try await body(bound)
        }
    }

    struct FakeUpstreamError: Error {}
}

/// Log lines kept for a test to search.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "capture") { _ in CapturingLogHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct CapturingLogHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
        }
    }
}
