import Foundation
import SecurityCore
@testable import SecurityStore
import SQLKit
import StoreTestSupport
import Testing

/// `reconcileRateLimits` and `pruneRateLimits`: the shared table's arithmetic on PostgreSQL, the
/// servers it counts, and SQLite's refusal.
struct SharedBudgetStoreTests {
    /// One request per second, a burst of 100.
    static let scope = RateLimitScope(
        checked: "general", limit: 100, period: .seconds(100), burst: 100, key: .client, counts: .requests, routes: [])

    /// `count` spends on one bucket, recorded at `now` on a store that shares budgets.
    static func spends(_ count: Int, key: String = "10.0.0.1", now: Int64 = 0) -> [SharedSpend] {
        let buckets = InMemoryRateLimitStore(sharesBudgets: true)
        for _ in 0..<count { _ = buckets.acquire(BucketRequest(scope: scope, key: key), mode: .always, now: now) }
        return buckets.drainSharedSpends()
    }

    static let second: Int64 = 1_000_000_000

    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func spendsFromSeveralServersAddUpAndEachIsCounted() async throws {
        let url = try await Backend.postgres.freshURL()
        let first = try await SQLSecurityStore.open(url: url)
        let second = try await SQLSecurityStore.open(url: url)
        let one = try await first.reconcileRateLimits(server: "a", spends: Self.spends(5), at: 0, liveWithin: .seconds(2), databaseNow: 0)
        #expect(one.servers == 1)
        #expect(one.buckets.count == 1)
        #expect(one.buckets.first?.spend.bucket == "general 10.0.0.1")
        // Five intervals ahead of the database's now (stood in for by 0 here, so a slow statement
        // changes nothing).
        let firstAhead = try #require(one.buckets.first?.ahead)
        #expect(firstAhead == 5 * Self.second)
        let two = try await second.reconcileRateLimits(server: "b", spends: Self.spends(3), at: 0, liveWithin: .seconds(2), databaseNow: 0)
        #expect(two.servers == 2)
        let secondAhead = try #require(two.buckets.first?.ahead)
        #expect(secondAhead == 8 * Self.second)
        // A batch with nothing in it still marks the server alive and counts the others.
        let empty = try await first.reconcileRateLimits(server: "a", spends: [], at: 0, liveWithin: .seconds(2), databaseNow: 0)
        #expect(empty.buckets.isEmpty && empty.servers == 2)
        try await first.close()
        try await second.close()
    }

    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func aSpendIsPlacedAtItsAgeAndFullBucketsArePruned() async throws {
        let url = try await Backend.postgres.freshURL()
        let store = try await SQLSecurityStore.open(url: url)
        // Spent 10 s ago, 3 intervals: the bucket is full again (7 s in the past) and is pruned.
        let old = try await store.reconcileRateLimits(
            server: "a", spends: Self.spends(3, key: "old", now: 0), at: 10 * Self.second, liveWithin: .seconds(2), databaseNow: 0)
        let oldAhead = try #require(old.buckets.first?.ahead)
        #expect(oldAhead == -7 * Self.second)
        _ = try await store.reconcileRateLimits(
            server: "a", spends: Self.spends(2, key: "busy"), at: 0, liveWithin: .seconds(2), databaseNow: 0)
        #expect(try await store.pruneRateLimits(databaseNow: 0) == 1)
        let left = try await store.reconcileRateLimits(
            server: "a", spends: Self.spends(1, key: "busy"), at: 0, liveWithin: .seconds(2), databaseNow: 0)
        let leftAhead = try #require(left.buckets.first?.ahead)
        #expect(leftAhead == 3 * Self.second)
        try await store.close()
    }

    /// Two servers sending the same buckets in opposite orders at the same time: the rows are
    /// written in one order, so neither batch deadlocks the other.
    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func concurrentBatchesOverTheSameBucketsDoNotDeadlock() async throws {
        let url = try await Backend.postgres.freshURL()
        let first = try await SQLSecurityStore.open(url: url)
        let second = try await SQLSecurityStore.open(url: url)
        let buckets = InMemoryRateLimitStore(sharesBudgets: true)
        for index in 0..<300 {
            _ = buckets.acquire(BucketRequest(scope: Self.scope, key: "10.1.\(index / 256).\(index % 256)"), mode: .always, now: 0)
        }
        let spends = buckets.drainSharedSpends().sorted { $0.key < $1.key }
        let reversed = Array(spends.reversed())
        // A deadlock is an error PostgreSQL raises in one of the batches: recorded, and the stores
        // still closed below.
        await #expect(throws: Never.self) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for _ in 0..<20 {
                        _ = try await first.reconcileRateLimits(server: "a", spends: spends, at: 0, liveWithin: .seconds(2), databaseNow: 0)
                    }
                }
                group.addTask {
                    for _ in 0..<20 {
                        _ = try await second.reconcileRateLimits(
                            server: "b", spends: reversed, at: 0, liveWithin: .seconds(2), databaseNow: 0)
                    }
                }
                try await group.waitForAll()
            }
        }
        // Every batch counted: 40 spends of one interval on each bucket, and one more now.
        let last = try? await first.reconcileRateLimits(server: "a", spends: [spends[0]], at: 0, liveWithin: .seconds(2), databaseNow: 0)
        #expect(last?.servers == 2)
        let ahead = last?.buckets.first?.ahead ?? 0
        #expect(ahead == 41 * Self.second, "\(ahead)")
        try await first.close()
        try await second.close()
    }

    @Test func sqliteDoesNotShare() async throws {
        let store = try await SQLSecurityStore.openInMemory()
        await #expect(throws: StoreError.self) {
            _ = try await store.reconcileRateLimits(server: "a", spends: [], at: 0, liveWithin: .seconds(2), databaseNow: 0)
        }
        #expect(try await store.pruneRateLimits() == 0)
        try await store.close()
    }
}
