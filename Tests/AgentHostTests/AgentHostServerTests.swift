@testable import AgentHost
import Foundation
import Logging
import SecurityCore
import SecurityStore
import ServiceLifecycle
import Synchronization
import Testing

/// The server as an embedder runs it: a value in its own service group, inside this process.
@Suite(.timeLimit(.minutes(1)))
struct AgentHostServerTests {
    let quiet = Logger(label: "agenthost-server-tests") { _ in SwiftLogNoOpLogHandler() }

    @Test func runsInAServiceGroupAndStopsWhenItShutsDown() async throws {
        let directory = try TemporaryDirectory()
        var configuration = AgentHostConfiguration(port: 0, dataDirectory: directory.path, tokenPolicy: try TokenPolicy())
        configuration.databaseURL = "sqlite:" + directory.path + "/embedded.sqlite"
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let announced = Mutex("")
        let server = AgentHostServer(
            configuration: configuration, environment: [:], logger: quiet,
            onServerRunning: { bound in
                announce.yield(bound)
                announce.finish()
            },
            announceSetupToken: { text in announced.withLock { $0 += text } }
        )
        let group = ServiceGroup(configuration: .init(services: [server], logger: quiet))
        let running = Task { try await group.run() }

        var announcements = ports.makeAsyncIterator()
        let bound = try #require(await announcements.next(), "the server did not report its port")
        let connection = try RawConnection(port: bound)
        #expect(await connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        #expect(await connection.readResponse()?.status == 200)
        connection.close()
        // A first start issues the setup token to the announcer, not to the log.
        #expect(announced.withLock { $0 }.contains("Setup token (single use"))

        await group.triggerGracefulShutdown()
        try await running.value
        #expect(throws: (any Error).self, "the port is still open after the shutdown") { try RawConnection(port: bound) }
        // The keyring was created, and the store holds the start's audit record.
        #expect(FileManager.default.fileExists(atPath: directory.path + "/keyring.json"))
        let actions = try await AgentHostCLI.withStore(
            url: configuration.databaseURL!, dataDirectory: directory.path, logger: quiet
        ) { store in
            try await store.auditRecords(after: 0, limit: 10, actor: nil, action: nil).map(\.event.action)
        }
        #expect(actions.first == "server.started")
    }

    @Test func aBadConfigurationStopsTheStartBeforeAnythingIsCreated() async throws {
        let directory = try TemporaryDirectory()
        var configuration = AgentHostConfiguration(
            host: "0.0.0.0", port: 0, dataDirectory: directory.path + "/data", mode: .headerTrust, tokenPolicy: try TokenPolicy())
        configuration.databaseURL = "sqlite:" + directory.path + "/data/never.sqlite"
        let server = AgentHostServer(configuration: configuration, environment: [:], logger: quiet)
        await #expect(throws: AgentHostError.self) { try await server.run() }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/data"))
    }

    @Test(arguments: [
        ("AGENTHOST_GITHUB_WEBHOOK_SECRET", "short", false),
        ("AGENTHOST_GITHUB_WEBHOOK_SECRET", "a-secret-of-sixteen", true),
        ("AGENTHOST_GITLAB_WEBHOOK_SECRET", "0123456789abcdef", true),
    ])
    func webhookSecretsShorterThanSixteenBytesStopTheStart(variable: String, value: String, accepted: Bool) throws {
        let redactor = SecretRedactor()
        if accepted {
            let verifiers = try AgentHostServer.webhookVerifiers(environment: [variable: value], redactor: redactor)
            #expect(verifiers.count == 1)
            #expect(!redactor.redact("sent \(value)").contains(value))
        } else {
            #expect {
                _ = try AgentHostServer.webhookVerifiers(environment: [variable: value], redactor: redactor)
            } throws: { error in
                let message = "\(error)"
                return message.contains(variable) && message.contains("at least 16") && !message.contains(value)
            }
        }
    }
}
