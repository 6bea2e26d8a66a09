@testable import SecurityCore
import Testing

/// The shared table of PostgreSQL's reconciliation (`SQLSecurityStore.reconcileRateLimits`), with
/// the same arithmetic, so the sharing can be checked on a manual clock: each spend is placed at
/// the table's clock minus its age, and moves the bucket's arrival time on from the later of the
/// stored time and that spend.
final class SharedTableModel {
    private var buckets: [String: (tat: Int64, spentAt: Int64)] = [:]

    func reconcile(_ spends: [SharedSpend], sentAt: Int64, now: Int64) -> [(spend: SharedSpend, ahead: Int64)] {
        spends.map { spend in
            let spentAt = now - max(0, sentAt - spend.since)
            let tat: Int64
            if let stored = buckets[spend.bucket] {
                tat = max(stored.tat, spentAt) + spend.nanoseconds
                buckets[spend.bucket] = (tat, max(stored.spentAt, spentAt))
            } else {
                tat = spentAt + spend.nanoseconds
                buckets[spend.bucket] = (tat, spentAt)
            }
            return (spend, tat - now)
        }
    }
}

struct SharedBudgetsTests {
    static let scope = RateLimitScope(
        checked: "general", limit: 100, period: .seconds(10), burst: 100, key: .client, counts: .requests, routes: [])

    func request(_ key: String = "10.0.0.1", scope: RateLimitScope = Self.scope) -> BucketRequest {
        BucketRequest(scope: scope, key: key)
    }

    @Test func aStoreThatDoesNotShareRecordsNothing() {
        let store = InMemoryRateLimitStore()
        #expect(store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed)
        #expect(store.drainSharedSpends().isEmpty)
    }

    @Test func spendsOfSharedScopesAreKeptUntilDrainedAndPerServerScopesStayLocal() {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        let local = Self.scope.sharing(false)
        _ = store.acquire([request(), request(scope: local)], mode: .ifAllAllowed, now: 1_000)
        _ = store.acquire(request(), mode: .ifAllAllowed, now: 5_000)
        _ = store.acquire(request(), mode: .check, now: 6_000)  // a check spends nothing
        let drained = store.drainSharedSpends()
        #expect(drained.count == 1)
        #expect(drained.first?.bucket == "general 10.0.0.1")
        #expect(drained.first?.cost == 2)
        #expect(drained.first?.since == 1_000)
        #expect(drained.first?.nanoseconds == 200_000_000)
        #expect(store.drainSharedSpends().isEmpty)
    }

    @Test func restoredSpendsAreSentWithTheNextOnes() {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        _ = store.acquire(request(), mode: .ifAllAllowed, now: 1_000)
        let failed = store.drainSharedSpends()
        _ = store.acquire(request(), mode: .always, now: 9_000)
        store.restoreSharedSpends(failed)
        let drained = store.drainSharedSpends()
        #expect(drained.count == 1)
        #expect(drained.first?.cost == 2)
        #expect(drained.first?.since == 1_000)
    }

    /// The burst that went 11 % over in scale_out.py: a server reconciles after only a few of its
    /// requests while the others have spent their whole share and not sent it. The estimate of
    /// their unsent spends (as much each as this server sent) is then too low, and before the fix
    /// the reconciliation loosened this server's bucket: 33 admitted became 52.
    @Test func aReconciliationNeverLoosensWhatTheServerHolds() {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        store.updateSharing(servers: 3, reachable: true)
        let table = SharedTableModel()
        var admitted = 0
        for _ in 0..<5 where store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { admitted += 1 }
        let early = store.drainSharedSpends()
        while store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { admitted += 1 }
        #expect(admitted == 33, "this server's share of the burst")
        // The table knows only these 5; the other servers' 66 are on their way.
        store.reconcile(table.reconcile(early, sentAt: 0, now: 0), now: 0)
        while store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { admitted += 1 }
        #expect(admitted == 33, "admitted \(admitted) after the reconciliation")
    }

    @Test(arguments: [1, 2, 3, 4])
    func anUntrackedBucketHoldsThisServersShareOfTheBurst(servers: Int) {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        store.updateSharing(servers: servers, reachable: true)
        var admitted = 0
        while store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { admitted += 1 }
        #expect(admitted == 100 / servers)
        // A per-server scope keeps the whole burst.
        let perServer = RateLimitScope(
            checked: "mine", limit: 100, period: .seconds(10), burst: 100, key: .client, counts: .requests, routes: [], shared: false)
        var local = 0
        while store.acquire(request(scope: perServer), mode: .ifAllAllowed, now: 0).allowed { local += 1 }
        #expect(local == 100)
    }

    @Test func whileTheOthersCannotBeReachedEachRequestCostsAsManyIntervalsAsThereAreServers() {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        store.updateSharing(servers: 4, reachable: false)
        #expect(store.sharing.servers == 4 && !store.sharing.reachable)
        var admitted = 0
        while store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { admitted += 1 }
        #expect(admitted == 25)
        // The sustained rate is a quarter too: one request per 400 ms.
        #expect(!store.acquire(request(), mode: .ifAllAllowed, now: 300_000_000).allowed)
        #expect(store.acquire(request(), mode: .ifAllAllowed, now: 400_000_000).allowed)
        // Never having seen the others, a server keeps the whole limit.
        let alone = InMemoryRateLimitStore(sharesBudgets: true)
        alone.updateSharing(servers: 0, reachable: false)
        var whole = 0
        while alone.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { whole += 1 }
        #expect(whole == 100)
    }

    @Test func reconcilingFoldsInTheOthersSpendingAndKeepsTheSpendsSinceTheDrain() {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        _ = store.acquire(request(), mode: .ifAllAllowed, now: 0)
        let drained = store.drainSharedSpends()
        _ = store.acquire(request(), mode: .ifAllAllowed, now: 10)  // after the drain
        // The others spent 97 more: 98 in the shared table; with this one since, 99 of 100.
        store.reconcile([(drained[0], 98 * 100_000_000)], now: 20)
        #expect(store.acquire(request(), mode: .ifAllAllowed, now: 20).allowed)
        #expect(!store.acquire(request(), mode: .ifAllAllowed, now: 20).allowed)
    }

    @Test func reconcilingLeavesTheOthersTheirShareOfTheRoomLeft() {
        let store = InMemoryRateLimitStore(sharesBudgets: true)
        store.updateSharing(servers: 2, reachable: true)
        _ = store.acquire(request(), mode: .ifAllAllowed, now: 0)
        // 1 spent in all: 99 left, of which this server may take 49.
        store.reconcile([(store.drainSharedSpends()[0], 100_000_000)], now: 0)
        var admitted = 0
        while store.acquire(request(), mode: .ifAllAllowed, now: 0).allowed { admitted += 1 }
        #expect(admitted == 49)
    }

    /// Three servers, a client spread round-robin over them at `factor` times the limit for two
    /// whole periods, each server reconciling every `sync`: the requests admitted against those
    /// one server alone would admit for the same traffic.
    static func simulate(
        factor: Int, sync: Int64, duration: Int64, burstAtStart: Int = 0, burstSpacing: Int64 = 100_000
    ) -> (shared: Int, alone: Int) {
        let servers = (0..<3).map { _ in InMemoryRateLimitStore(sharesBudgets: true) }
        for server in servers { server.updateSharing(servers: 3, reachable: true) }
        let alone = InMemoryRateLimitStore()
        let table = SharedTableModel()
        let request = BucketRequest(scope: scope, key: "10.0.0.1")
        let gap = scope.emissionInterval / Int64(factor)
        var arrivals = (0..<burstAtStart).map { Int64($0) * burstSpacing }  // a burst at the start
        var time = arrivals.last.map { $0 + gap } ?? 0
        while time < duration {
            arrivals.append(time)
            time += gap
        }
        var shared = 0, single = 0
        // Each server reconciles at its own phase of the interval.
        var nextSync = (0..<3).map { Int64($0) * sync / 3 + sync }
        for (index, arrival) in arrivals.enumerated() {
            for server in 0..<3 where nextSync[server] <= arrival {
                let spends = servers[server].drainSharedSpends()
                servers[server].reconcile(table.reconcile(spends, sentAt: nextSync[server], now: nextSync[server]), now: nextSync[server])
                nextSync[server] += sync
            }
            if servers[index % 3].acquire(request, mode: .ifAllAllowed, now: arrival).allowed { shared += 1 }
            if alone.acquire(request, mode: .ifAllAllowed, now: arrival).allowed { single += 1 }
        }
        return (shared, single)
    }

    @Test(arguments: [100_000_000, 200_000_000] as [Int64])
    func threeServersAdmitWhatOneWouldWithinFivePercent(sync: Int64) {
        let (shared, alone) = Self.simulate(factor: 3, sync: sync, duration: 20_000_000_000)
        #expect((299...301).contains(alone))  // 100 at once, then one per 100 ms for 20 s
        #expect(abs(shared - alone) * 100 <= alone * 5, "shared \(shared), alone \(alone)")
        print("shared budgets, sync \(sync / 1_000_000) ms, 3x the limit for two periods: \(shared) admitted, one server alone \(alone)")
    }

    @Test(arguments: [100_000_000, 200_000_000] as [Int64])
    func aBurstWithinOneReconciliationIsAdmittedOnceWithinTenPercent(sync: Int64) {
        let (shared, alone) = Self.simulate(factor: 3, sync: sync, duration: 0, burstAtStart: 300)
        #expect(alone == 100)
        #expect(abs(shared - alone) * 100 <= alone * 10, "shared \(shared), alone \(alone)")
        print("shared budgets, sync \(sync / 1_000_000) ms, a burst of 3x the burst: \(shared) admitted, one server alone \(alone)")
    }

    /// The same burst spread over two reconciliations (300 requests in 200 ms): a server that
    /// reconciles before the others have sent theirs takes their unsent spends to be as large as
    /// its own.
    @Test func aBurstOverTwoReconciliationsIsAdmittedOnceWithinTenPercent() {
        let (shared, alone) = Self.simulate(
            factor: 3, sync: 100_000_000, duration: 0, burstAtStart: 300, burstSpacing: 666_666)
        #expect((100...102).contains(alone))
        #expect(abs(shared - alone) * 100 <= alone * 10, "shared \(shared), alone \(alone)")
    }
}
