import SecurityCore
import Testing

struct AuditChainTests {
    let chain = AuditChain(key: HMACSHA256Key(copying: [UInt8](repeating: 5, count: 32)))

    func event(_ index: Int, actor: String = "builder-7", target: String = "") -> AuditEvent {
        AuditEvent(
            time: 1_800_000_000_000 + Int64(index), actor: actor, action: "token.minted", target: target, details: ["n": String(index)])
    }

    /// Ten chained records.
    func log(_ count: Int = 10) -> [AuditRecord] {
        chain.records((1...count).map { event($0) }, after: nil)
    }

    func verify(_ records: [AuditRecord], checkpoints: [AuditCheckpoint] = []) async throws -> AuditChain.Problem? {
        try await chain.verify(checkpoints: checkpoints, batchSize: 3) { after, limit in
            Array(records.filter { $0.sequence > after }.prefix(limit))
        }.problem
    }

    @Test func anIntactLogVerifiesAcrossPages() async throws {
        let records = log()
        #expect(records.map(\.sequence) == Array(1...10))
        let result = try await chain.verify(checkpoints: [chain.checkpoint(records[4].head, time: 1)], batchSize: 3) { after, limit in
            Array(records.filter { $0.sequence > after }.prefix(limit))
        }
        #expect(result.problem == nil && result.verified == 10 && result.head == records[9].head)
        #expect(try await verify([]) == nil)
    }

    @Test func alteredRemovedAndInsertedRecordsAreNamed() async throws {
        var records = log()
        // Altered: record 4 says someone else did it, its MAC kept.
        var altered = records
        var changed = altered[3].event
        changed.actor = "someone-else"
        altered[3] = AuditRecord(sequence: 4, event: changed, mac: altered[3].mac)
        #expect(try await verify(altered) == .altered(sequence: 4))

        // Removed: record 6 deleted.
        var removed = records
        removed.remove(at: 5)
        #expect(try await verify(removed) == .removed(from: 6, through: 6))

        // Inserted: a forged record 3, the real ones renumbered after it.
        var forged = Array(records[..<2])
        forged.append(AuditRecord(sequence: 3, event: event(99, actor: "intruder"), mac: [UInt8](repeating: 1, count: 32)))
        for record in records[2...] { forged.append(AuditRecord(sequence: record.sequence + 1, event: record.event, mac: record.mac)) }
        #expect(try await verify(forged) == .inserted(sequence: 3))

        // The last record altered: nothing after it to tell what happened, still named.
        records[9] = AuditRecord(sequence: 10, event: event(100), mac: records[9].mac)
        #expect(try await verify(records) == .broken(sequence: 10))
    }

    @Test func checkpointsCatchACutOffEndAndCannotBeForged() async throws {
        let records = log()
        let checkpoint = chain.checkpoint(records[7].head, time: 1)
        #expect(try await verify(Array(records[..<6]), checkpoints: [checkpoint]) == .truncated(checkpoint: 8, head: 6))
        let other = AuditChain(key: HMACSHA256Key(copying: [UInt8](repeating: 6, count: 32)))
        #expect(try await verify(records, checkpoints: [other.checkpoint(records[7].head, time: 1)]) == .forgedCheckpoint(sequence: 8))
        // A chain rewritten from the start under another key does not verify at all.
        #expect(try await verify(other.records((1...3).map { event($0) }, after: nil)) != nil)
    }

    @Test func fieldsCannotBleedIntoEachOther() {
        // Moving bytes between fields, or a newline that imitates a new record, changes the MAC.
        let pairs: [(AuditEvent, AuditEvent)] = [
            (event(1, actor: "ab", target: ""), event(1, actor: "a", target: "b")),
            (event(1, actor: "a\naction=token.revoked"), event(1, actor: "a")),
            (
                AuditEvent(time: 1, actor: "a", action: "x", details: ["k": "v"]),
                AuditEvent(time: 1, actor: "a", action: "x", details: ["kv": ""])
            ),
        ]
        for (left, right) in pairs {
            #expect(chain.record(left, after: nil).mac != chain.record(right, after: nil).mac)
        }
        // Details are encoded in key order, whatever order the dictionary holds them in.
        let one = AuditEvent(time: 1, actor: "a", action: "x", details: ["b": "2", "a": "1"])
        let two = AuditEvent(time: 1, actor: "a", action: "x", details: ["a": "1", "b": "2"])
        #expect(chain.record(one, after: nil).mac == chain.record(two, after: nil).mac)
    }
}
