import Dispatch
@testable import SecurityCore
import Synchronization
import Testing

struct BucketTableTests {
    @Test func survivesChurn() {
        let table = BucketTable(maximumCount: 5000, initialCapacity: 8)
        var reference = [UInt64: Int64]()
        var generator = SystemRandomNumberGenerator()
        for step in 0..<40_000 {
            let hash = UInt64.random(in: 1...3000, using: &generator) &* 0x9E37_79B9_7F4A_7C15
            table.withLock { locked in
                if step % 3 == 0 {
                    locked.remove(hash)
                } else {
                    locked.store(hash, arrival: Int64(step) + 1_000_000, now: 0)
                }
            }
            reference[hash] = step % 3 == 0 ? nil : Int64(step) + 1_000_000
        }
        #expect(table.count == reference.count)
        for (hash, arrival) in reference {
            #expect(table.withLock { $0.arrival(of: hash) } == arrival)
        }
    }

    @Test func lockFreeAnswersMatchTheLockedOnes() throws {
        let scope = try RateLimitScope(name: "s", limit: 3, period: .seconds(60))
        let request = BucketRequest(scope: scope, key: "k")
        let table = BucketTable(maximumCount: 100)
        // Untracked: a check is answered without the lock, a charge needs it (the key is new).
        #expect(table.tryAcquire(42, request: request, mode: .check, now: 0)?.remaining == 2)
        #expect(table.tryAcquire(42, request: request, mode: .ifAllAllowed, now: 0) == nil)
        table.withLock { $0.store(42, arrival: 40_000_000_000, now: 0) }
        // Tracked: charged in place.
        let charged = table.tryAcquire(42, request: request, mode: .ifAllAllowed, now: 0)
        #expect(charged?.allowed == true)
        #expect(charged?.remaining == 0)
        #expect(table.withLock { $0.arrival(of: 42) } == 60_000_000_000)
        #expect(table.tryAcquire(42, request: request, mode: .ifAllAllowed, now: 0)?.allowed == false)
        #expect(table.withLock { $0.arrival(of: 42) } == 60_000_000_000)
        // `always` counts a refused event too.
        #expect(table.tryAcquire(42, request: request, mode: .always, now: 0)?.allowed == false)
        #expect(table.withLock { $0.arrival(of: 42) } == 80_000_000_000)
    }

    @Test func aFrozenBucketSendsLockFreeCallersToTheLock() throws {
        let scope = try RateLimitScope(name: "s", limit: 3, period: .seconds(60))
        let request = BucketRequest(scope: scope, key: "k")
        let table = BucketTable(maximumCount: 100)
        table.withLock { $0.store(7, arrival: 0, now: 0) }
        table.withLock { locked in
            let index = try! #require(locked.find(7))
            let arrival = locked.take(index)
            #expect(arrival == 0)
            #expect(table.tryAcquire(7, request: request, mode: .check, now: 0) == nil)
            #expect(table.tryAcquire(7, request: request, mode: .ifAllAllowed, now: 0) == nil)
            locked.put(index, arrival: arrival)
        }
        #expect(table.tryAcquire(7, request: request, mode: .ifAllAllowed, now: 0)?.allowed == true)
    }

    /// Four threads charge the same hot buckets without locks while new keys make every shard grow
    /// (and free its old slots) under them. No charge may be lost and no bucket duplicated: each hot
    /// bucket allows exactly its burst.
    @Test func concurrentChargesDuringGrowthAreExact() throws {
        let scope = try RateLimitScope(name: "hot", limit: 50, period: .seconds(60))
        let store = InMemoryRateLimitStore()
        let hotKeys = (0..<64).map { "hot-\($0)" }
        let now: Int64 = 1_000_000_000_000
        let allowed = Mutex([Int](repeating: 0, count: hotKeys.count))
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            var mine = [Int](repeating: 0, count: hotKeys.count)
            for round in 0..<150 {
                for (index, key) in hotKeys.enumerated() {
                    if store.acquire(BucketRequest(scope: scope, key: key), mode: .ifAllAllowed, now: now).allowed {
                        mine[index] += 1
                    }
                    if index % 4 == 0 {
                        _ = store.acquire(BucketRequest(scope: scope, key: "cold-\(thread)-\(round)-\(index)"), mode: .ifAllAllowed, now: now)
                    }
                }
            }
            allowed.withLock { total in
                for index in total.indices { total[index] += mine[index] }
            }
        }
        let reference = InMemoryRateLimitStore()
        let burst = (0..<100).count { _ in reference.acquire(BucketRequest(scope: scope, key: "x"), mode: .ifAllAllowed, now: now).allowed }
        #expect(burst == 50)
        #expect(allowed.withLock { $0 } == [Int](repeating: burst, count: hotKeys.count))
        #expect(store.trackedKeys == hotKeys.count + 4 * 150 * 16)
    }
}
