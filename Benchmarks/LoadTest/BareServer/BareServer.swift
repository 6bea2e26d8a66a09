// The anchor of scripts/loadtest: Hummingbird 2 with nothing on. GET /api/whoami answers a fixed
// body the size of AgentHost's, so both servers put the same bytes on the wire; it is also the
// upstream of `loadtest --proxy`, whose large download is GET /v1/download/{mib}: that many MiB of
// random-looking bytes (one 64 KiB block, made once, over and over), streamed.
// Usage: BareServer PORT   (0 picks a free one; the bound port is printed as "listening PORT")
import Foundation
import Hummingbird
import Logging

@main
struct BareServer {
    static let body =
        #"{"agent_id":"loadtest","authenticated_by":"agent_token","expires_at":"2026-11-22T18:00:00Z","role":"admin","subject":"loadtest","team":"","token_id":"00000000000000000000000000000000"}"#

    static func main() async throws {
        let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 0
        let router = Router()
        router.get("/api/whoami") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body))
            )
        }
        // A block of pseudo-random bytes (a fixed xorshift sequence): every byte value appears, as in
        // a real download, so the proxy's scrubber is measured at its usual work, not at its best.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let block = ByteBuffer(
            bytes: (0..<(64 << 10)).map { _ in
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            })
        router.get("/v1/download/{mib}") { _, context in
            let mib = min(context.parameters.get("mib", as: Int.self) ?? 1, 4096)
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream", .contentLength: String(mib << 20)],
                body: ResponseBody { writer in
                    for _ in 0..<(mib * 16) { try await writer.write(block) }
                    try await writer.finish(nil)
                })
        }
        var logger = Logger(label: "bare")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare"),
            onServerRunning: { channel in
                // Unbuffered, so the script sees the line while the server runs.
                FileHandle.standardOutput.write(Data("listening \(channel.localAddress?.port ?? port)\n".utf8))
            },
            logger: logger
        )
        try await app.runService()
    }
}
