// The anchor of scripts/loadtest: Hummingbird 2 with nothing on. One route, GET /api/whoami,
// answering a fixed body the size of AgentHost's, so both servers put the same bytes on the wire.
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
