import Foundation
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// Runs of `agenthost run`, on SQLite and on PostgreSQL.
struct RunStoreTests {
    static func run(_ id: UInt8, agent: String = "builder-7", startedAt: Int64, parent: TokenID? = nil) throws -> RunRecord {
        RunRecord(
            id: TokenID(hex: String(repeating: String(format: "%02x", id), count: 16))!, agent: try AgentID(agent),
            role: try Role("developer"),
            team: try Team("core"), command: "claude", startedBy: "ops", upstreams: ["anthropic", "gitlab"],
            allowedHosts: ["pypi.org:443"], sandbox: "bwrap", parent: parent, startedAt: startedAt, renewedAt: startedAt,
            expiresAt: startedAt + 3600)
    }

    @Test(arguments: Backend.enabled)
    func runsAreRecordedRenewedAndEndedOnce(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        let first = try Self.run(1, startedAt: 100)
        let second = try Self.run(2, agent: "tests-1", startedAt: 200, parent: first.id)
        try await store.createRun(first)
        try await store.createRun(second)
        #expect(try await store.run(id: first.id) == first)
        #expect(try await store.runs(agent: nil, limit: 10).map(\.id) == [second.id, first.id], "newest first")
        #expect(try await store.runs(agent: AgentID("tests-1"), limit: 10) == [second])
        #expect(try await store.runs(agent: nil, limit: 1).map(\.id) == [second.id])

        // Renewals only move forward.
        try await store.recordRenewals([first.id: 150, second.id: 250])
        try await store.recordRenewals([first.id: 120])
        #expect(try await store.run(id: first.id)?.renewedAt == 150)

        let ended = try #require(try await store.endRun(id: first.id, at: 160, exitStatus: 3))
        #expect(ended.endedAt == 160 && ended.exitStatus == 3 && ended.renewedAt == 150)
        #expect(try await store.endRun(id: first.id, at: 170, exitStatus: 0)?.exitStatus == 3, "the first end stays")
        #expect(try await store.endRun(id: TokenID(hex: String(repeating: "09", count: 16))!, at: 170, exitStatus: 0) == nil)
        #expect(try await store.openRuns(now: 300).map(\.id) == [second.id])
        #expect(try await store.openRuns(now: 200 + 3600).isEmpty, "expired")
        try await store.close()

        let again = try await reopen()
        let stored = try #require(try await again.run(id: second.id))
        #expect(stored.parent == first.id && stored.upstreams == ["anthropic", "gitlab"] && stored.allowedHosts == ["pypi.org:443"])
        #expect(stored.state(at: 279, leaseTTL: 30) == .running)
        #expect(stored.state(at: 280, leaseTTL: 30) == .lapsed)
        #expect(try await again.run(id: first.id)?.state(at: 161, leaseTTL: 30) == .ended)
        try await again.close()
    }
}
