import Logging
import NIOCore
import NIOPosix
import SecurityCore
import Testing

@testable import SecurityStore

/// Opening a PostgreSQL connection is bounded in all, not only its TCP connect: a server that
/// accepts and then says nothing (one in the middle of a restart) must not hold the store's one
/// connection, and every operation queued behind it, for ever.
struct PostgresLinkTests {
    @Test func aServerThatAcceptsAndSaysNothingFailsTheConnectionAtItsDeadline() async throws {
        // A listener on 127.0.0.1 that accepts every connection and never writes a byte.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { _ in MultiThreadedEventLoopGroup.singleton.next().makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        let link = try PostgresLink(
            url: "postgres://agenthost:unused@127.0.0.1:\(port)/agenthost", logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            openTimeout: .milliseconds(300))
        do {
            _ = try await link.connect()
            Issue.record("connected to a server that never answered")
        } catch let error as StoreError {
            #expect(error.code == .unavailable)
            #expect(!error.description.contains("unused"), "the password reached the error")
        }
        try await silent.close()
    }
}
