import Foundation
import SecurityCore
@testable import SecurityStore
import SQLKit
import StoreTestSupport
import Testing

/// The audit log on SQLite and PostgreSQL: one chain, also with several writers.
struct AuditStoreTests {
    let chain = AuditChain(key: HMACSHA256Key(copying: [UInt8](repeating: 7, count: 32)))

    func append(_ store: SQLSecurityStore, _ events: [AuditEvent]) async throws -> AuditHead? {
        let chain = self.chain
        return try await store.appendAudit { head in (chain.records(events, after: head), nil) }
    }

    func verify(_ store: SQLSecurityStore) async throws -> (problem: AuditChain.Problem?, head: AuditHead?, verified: Int) {
        try await chain.verify(checkpoints: try await store.auditCheckpoints(), batchSize: 7) { after, limit in
            try await store.auditRecords(after: after, limit: limit, actor: nil, action: nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func recordsRoundTripAndTamperingIsNamed(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        let events = (1...20).map { index in
            AuditEvent(
                time: Int64(index), actor: index % 2 == 0 ? "user:alice" : "builder-7", action: "secret.released", target: "builder-7",
                decision: "ok", rule: "r", requestID: "q\(index)", client: "127.0.0.1",
                details: ["env": "GITHUB_TOKEN", "quote": "\"\n\\"]
            )
        }
        let chain = self.chain
        let head = try await store.appendAudit { head in
            let records = chain.records(events, after: head)
            return (records, chain.checkpoint(records[14].head, time: 1))
        }
        #expect(head?.sequence == 20)
        #expect(try await store.auditRecords(after: 0, limit: 100, actor: nil, action: nil).map(\.event) == events)
        #expect(try await store.auditRecords(after: 0, limit: 100, actor: "user:alice", action: nil).count == 10)
        #expect(try await store.auditRecords(after: 15, limit: 3, actor: nil, action: "secret.released").map(\.sequence) == [16, 17, 18])
        #expect(try await verify(store).problem == nil)

        try await store.database.raw("UPDATE audit_log SET actor = 'someone-else' WHERE sequence = 12").run()
        #expect(try await verify(store).problem == .altered(sequence: 12))
        try await store.database.raw("DELETE FROM audit_log WHERE sequence = 12").run()
        #expect(try await verify(store).problem == .removed(from: 12, through: 12))
        try await store.database.raw("DELETE FROM audit_log WHERE sequence >= 12").run()
        #expect(try await verify(store).problem == .truncated(checkpoint: 15, head: 11))
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func concurrentWritersKeepOneChain(backend: Backend) async throws {
        let (first, reopen) = try await backend.open()
        // Two connections to the same database, as two servers would have.
        let second = try await reopen()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in [first, second].enumerated() {
                group.addTask {
                    for round in 0..<25 {
                        _ = try await append(store, [AuditEvent(time: Int64(round), actor: "server-\(index)", action: "test")])
                    }
                }
            }
            try await group.waitForAll()
        }
        let result = try await verify(first)
        #expect(result.problem == nil && result.verified == 50)
        try await first.close()
        try await second.close()
    }
}
