import AgentHost
import Logging
import SecurityCore
import SecurityStore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// The audit flush runs on the server's clock: nothing is written until the clock has moved one
/// interval, and a graceful shutdown writes what is left. No test here waits for real time.
@Suite(.timeLimit(.minutes(1)))
struct AuditFlushServiceTests {
    @Test func itFlushesEachIntervalOfItsClockAndOnceMoreAtShutdown() async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts()
        let recorder = try #require(fixture.components.audit)
        let clock = fixture.clock
        func written() async throws -> Int {
            try await store.auditRecords(after: 0, limit: 100, actor: "flush-test", action: nil).count
        }
        let service = AuditFlushService(
            recorder: recorder, interval: .seconds(1), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, ticks: clock)
        try await testGracefulShutdown { shutdown in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await service.run() }
                await clock.sleepers(atLeast: 1)
                recorder.record(AuditEvent(time: 1, actor: "flush-test", action: "first"))
                clock.advance(by: .milliseconds(999))
                #expect(try await written() == 0, "flushed before its interval")
                clock.advance(by: .milliseconds(1))
                // Asleep again only once the flush it woke for is done.
                await clock.sleepers(atLeast: 1)
                #expect(try await written() == 1)
                recorder.record(AuditEvent(time: 2, actor: "flush-test", action: "last"))
                shutdown.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(try await written() == 2, "the shutdown did not write what was queued")
        try await store.close()
    }
}
