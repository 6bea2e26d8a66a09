import Foundation
public import Logging
public import SecurityCore
public import SecurityStore
public import ServiceLifecycle

/// Reconciles this server's rate-limit buckets with every other server's through a PostgreSQL
/// store: every ``interval`` it sends what this server spent from shared scopes and folds in the
/// shared state of those buckets, in one statement (`SQLSecurityStore/reconcileRateLimits(server:spends:at:liveWithin:)`).
/// The request path never waits for it.
///
/// When the store cannot be reached, the spends are kept for the next attempt and the server keeps
/// to its share of each limit (the limit divided by the servers it last saw, the whole limit when it
/// never saw any): it logs so once, sets `agenthost_rate_limit_isolated` to 1, and tries again
/// every second. When the store is back it sends what was spent meanwhile and shares again.
/// Docs/SCALING.md explains the design.
public struct RateLimitSyncService: Service {
    let buckets: InMemoryRateLimitStore
    let store: SQLSecurityStore
    let metrics: AgentHostMetrics
    let logger: Logger
    /// Time between two reconciliations.
    public let interval: Duration
    /// A server that has not reconciled for this long no longer counts as sharing.
    public let liveWithin: Duration
    /// Time between two prunings of full buckets from the shared table.
    public let pruneInterval: Duration
    /// This server's name in the shared table: random, new at each start.
    public let server: String
    let ticks: any TickSource
    /// Stands in for the database's clock: a test that steps `ticks` steps this one too, so the
    /// shared buckets age as the servers' do. `nil` (every server): the database's own clock.
    var databaseClock: (any TickSource)?

    public init(
        buckets: InMemoryRateLimitStore, store: SQLSecurityStore, metrics: AgentHostMetrics, logger: Logger,
        interval: Duration = .milliseconds(100), liveWithin: Duration = .seconds(2), pruneInterval: Duration = .seconds(10),
        ticks: any TickSource = SystemTickSource()
    ) {
        self.buckets = buckets
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.interval = interval
        self.liveWithin = liveWithin
        self.pruneInterval = pruneInterval
        self.server = UUID().uuidString.lowercased()
        self.ticks = ticks
    }

    public func run() async {
        var lastPrune = ticks.nanoseconds()
        var failing = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let pause = failing ? .seconds(1) : interval
            do {
                try await cancelWhenGracefulShutdown { try await ticks.sleep(for: pause) }
            } catch {
                return
            }
            let ok = await reconcileOnce()
            if ok == failing {
                failing = !ok
                metrics.set("agenthost_rate_limit_isolated", failing ? 1 : 0)
            }
            if ok, ticks.nanoseconds() - lastPrune >= pruneInterval.wholeNanoseconds {
                lastPrune = ticks.nanoseconds()
                _ = try? await store.pruneRateLimits(databaseNow: databaseClock?.nanoseconds())
            }
        }
        // The last spends, so the others see them.
        _ = await reconcileOnce()
    }

    /// One reconciliation. Returns whether it reached the store.
    @discardableResult
    public func reconcileOnce() async -> Bool {
        let spends = buckets.drainSharedSpends()
        let sent = ticks.nanoseconds()
        do {
            let shared = try await store.reconcileRateLimits(
                server: server, spends: spends, at: sent, liveWithin: liveWithin, databaseNow: databaseClock?.nanoseconds())
            let wasIsolated = !buckets.sharing.reachable
            if wasIsolated || buckets.sharing.servers != shared.servers {
                buckets.updateSharing(servers: shared.servers, reachable: true)
                metrics.set("agenthost_rate_limit_servers", shared.servers)
                if wasIsolated {
                    logger.notice("rate limits are shared again", metadata: ["servers": "\(shared.servers)"])
                }
            }
            buckets.reconcile(shared.buckets, now: ticks.nanoseconds())
            metrics.increment("agenthost_rate_limit_reconciliations_total", [("outcome", "ok")])
            return true
        } catch {
            buckets.restoreSharedSpends(spends)
            metrics.increment("agenthost_rate_limit_reconciliations_total", [("outcome", "failed")])
            let sharing = buckets.sharing
            if sharing.reachable {
                buckets.updateSharing(servers: sharing.servers, reachable: false)
                logger.error(
                    "cannot reach the store to share rate limits; each limit is divided among the servers last seen until it is back",
                    metadata: ["servers": "\(sharing.servers)", "error": "\(error)"])
            }
            return false
        }
    }
}
