import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import InMemoryLogging
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
        // The key split across two pieces of a chunked body. The pause is the upstream's own pacing,
        // so the pieces leave as two writes; no test waits on it (nor on the events' or /v1/slow's).
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
        // Later than the 1 s timeout of ProxyTests' `impatient` upstream.
        router.get("/v1/slow") { _, _ in
            try await Task.sleep(for: .seconds(3))
            return "late"
        }
        // Anthropic's Messages API, streaming: the key as x-api-key, or as a bearer token (which the
        // newest SDKs send).
        router.post("/v1/messages") { request, _ in
            guard let expected = self.expectedKey,
                request.headers[HTTPField.Name("x-api-key")!] == expected || request.headers[.authorization] == "Bearer " + expected
            else { return Self.unauthorized() }
            _ = try await request.body.collect(upTo: 1 << 20)
            let events: [(String, String)] =
                [
                    (
                        "message_start",
                        #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"fake","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}"#
                    ),
                    ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
                ]
                + Self.words.map {
                    ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\#($0)"}}"#)
                }
                + [
                    ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
                    (
                        "message_delta",
                        #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}"#
                    ),
                    ("message_stop", #"{"type":"message_stop"}"#),
                ]
            return Self.stream(events.map { "event: \($0.0)\ndata: \($0.1)\n\n" })
        }
        // OpenAI's Chat Completions API, streaming: the key must come as a bearer token.
        router.post("/v1/chat/completions") { request, _ in
            guard request.headers[.authorization] == "Bearer " + (self.expectedKey ?? "") else { return Self.unauthorized() }
            _ = try await request.body.collect(upTo: 1 << 20)
            let chunks = Self.words.map { word in
                #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"fake","choices":[{"index":0,"delta":{"content":"\#(word)"},"finish_reason":null}]}"#
            }
            return Self.stream(chunks.map { "data: \($0)\n\n" } + ["data: [DONE]\n\n"])
        }
        router.get("/v1/status/{code}") { _, context in
            Response(status: .init(code: context.parameters.get("code", as: Int.self) ?? 500))
        }
        return router
    }

    /// The key the SDK routes accept; `nil` accepts none.
    let expectedKey: String?

    init(expectedKey: String? = nil) {
        self.expectedKey = expectedKey
    }

    /// The words a fake model streams.
    static let words = ["Hello", " from", " upstream"]

    /// A stream of server-sent events, each flushed on its own.
    static func stream(_ events: [String]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                for event in events { try await writer.write(ByteBuffer(string: event)) }
                try await writer.finish(nil)
            })
    }

    static func unauthorized() -> Response {
        Response(
            status: .unauthorized, headers: [.contentType: "application/json"],
            body: .init(
                byteBuffer: ByteBuffer(string: #"{"type":"error","error":{"type":"authentication_error","message":"invalid key"}}"#)))
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
        try await serveOnLoopback(router(), label: "fake-upstream", body)
    }

    struct FakeUpstreamError: Error {}
}

/// Runs `router` on a free port of 127.0.0.1 while `body` runs with the port; stops it after.
func serveOnLoopback<Result: Sendable>(
    _ router: Router<BasicRequestContext>, label: String, _ body: @Sendable (Int) async throws -> Result
) async throws -> Result {
    let (ports, announce) = AsyncStream.makeStream(of: Int?.self)
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            announce.yield(channel.localAddress?.port)
            announce.finish()
        },
        logger: Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        var running = ports.makeAsyncIterator()
        guard let announced = await running.next(), let bound = announced else { throw FakeUpstream.FakeUpstreamError() }
        defer { group.cancelAll() }
        return try await body(bound)
    }
}

extension InMemoryLogHandler {
    /// A logger at trace level whose every line this handler keeps.
    var logger: Logger {
        var logger = Logger(label: "capture") { _ in self }
        logger.logLevel = .trace
        return logger
    }

    /// Every line kept, one per line: level, message and metadata, for a test to search.
    var text: String {
        entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
    }
}
