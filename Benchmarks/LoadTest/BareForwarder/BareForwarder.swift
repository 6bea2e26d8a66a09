// The proxy's anchor in scripts/loadtest --proxy: Hummingbird in, AsyncHTTPClient out, one header
// injected, nothing else. No authentication, no policy, no scrubbing, no record: what AgentHost's
// `/proxy/{upstream}/**` could reach on these two libraries with no security at all.
// Usage: BareForwarder PORT UPSTREAM   (UPSTREAM like http://127.0.0.1:8081; 0 picks a free port,
// printed as "listening PORT"). GET /proxy/bench/<path> goes to UPSTREAM/<path>.
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

@main
struct BareForwarder {
    /// Dropped on the way back, as any forwarder must.
    static let hopByHop: Set<String> = ["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"]

    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let port = arguments.first.flatMap { Int($0) } ?? 0
        let upstream = arguments.dropFirst().first ?? "http://127.0.0.1:8081"
        let client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: .init(redirectConfiguration: .disallow, decompression: .disabled))
        let router = Router()
        router.get("/proxy/bench/**") { request, _ -> Response in
            var outbound = HTTPClientRequest(url: upstream + request.uri.path.dropFirst("/proxy/bench".count))
            outbound.headers.add(name: "Authorization", value: "Bearer sk-bench-0123456789abcdefghij")
            let answer = try await client.execute(outbound, timeout: .seconds(30))
            var headers = HTTPFields()
            for header in answer.headers where !hopByHop.contains(header.name.lowercased()) {
                if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
            }
            return Response(
                status: .init(code: Int(answer.status.code)), headers: headers,
                body: ResponseBody(asyncSequence: answer.body))
        }
        var logger = Logger(label: "bare-forwarder")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare-forwarder"),
            onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("listening \(channel.localAddress?.port ?? port)\n".utf8))
            },
            logger: logger
        )
        try await app.runService()
        try await client.shutdown()
    }
}
