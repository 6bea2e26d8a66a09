import Dispatch
@testable import SecurityCore
import Synchronization
import Testing

struct BucketTableTests {
    @Test func survivesChurn() {
        var table = BucketTable(maximumCount: 5000, initialCapacity: 8)
        var reference = [UInt64: Int64]()
        var generator = SystemRandomNumberGenerator()
        for step in 0..<40_000 {
            let hash = UInt64.random(in: 1...3000, using: &generator) &* 0x9E37_79B9_7F4A_7C15
            if step % 3 == 0 {
                table.remove(hash)
            } else {
                table.store(hash, arrival: Int64(step) + 1_000_000, now: 0)
            }
            reference[hash] = step % 3 == 0 ? nil : Int64(step) + 1_000_000
        }
        #expect(table.count == reference.count)
        for (hash, arrival) in reference {
            #expect(table.arrival(of: hash) == arrival)
        }
    }

    /// Four threads charge the same hot buckets while new keys make every shard grow under them.
    /// No charge may be lost and no bucket duplicated: each hot bucket allows exactly its burst.
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
                        _ = store.acquire(
                            BucketRequest(scope: scope, key: "cold-\(thread)-\(round)-\(index)"), mode: .ifAllAllowed, now: now)
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
