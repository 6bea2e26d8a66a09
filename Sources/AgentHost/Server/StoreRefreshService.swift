public import Logging
import SecurityCore
public import SecurityStore
public import ServiceLifecycle

/// Brings in what other servers and the command line changed in the shared store: revocations,
/// users and keys every few seconds, with the browser sessions' activity and the runs' leases; it drops expired webhook delivery ids and
/// long-ended browser sessions every ten minutes.
public struct StoreRefreshService: Service {
    let components: AgentHost.Components
    let store: SQLSecurityStore
    let interval: Duration
    let pruneInterval: Duration
    let logger: Logger

    public init(
        components: AgentHost.Components, store: SQLSecurityStore, interval: Duration = .seconds(3),
        pruneInterval: Duration = .seconds(600), logger: Logger
    ) {
        self.components = components
        self.store = store
        self.interval = interval
        self.pruneInterval = pruneInterval
        self.logger = logger
    }

    public func run() async {
        let ticks = components.ticks
        var lastPrune = ticks.nanoseconds()
        await repeatUntilShutdown(every: interval, on: ticks) {
            do {
                try await components.refreshRevocations()
                try await components.accounts?.refresh()
                try await components.browserSessions?.sync()
                try await components.runs?.sync()
                if ticks.nanoseconds() - lastPrune >= pruneInterval.wholeNanoseconds {
                    lastPrune = ticks.nanoseconds()
                    _ = try await store.pruneDeliveries(now: components.clock.now())
                    _ = try await components.browserSessions?.prune()
                }
            } catch {
                logger.warning("could not refresh revocations, users and keys from the store", metadata: ["error": "\(error)"])
            }
        }
    }
}
