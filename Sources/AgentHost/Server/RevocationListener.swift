public import Logging
import SecurityCore
public import SecurityStore
public import ServiceLifecycle

/// Applies a revocation stored by any server sharing a PostgreSQL store as soon as it is
/// announced (LISTEN/NOTIFY): revoked tokens, users and keys deleted or whose sessions ended, and
/// runs begun.
/// ``StoreRefreshService``'s polling stays as the fallback. While the listener's connection is
/// down it tries again every second, and reads everything once more when it is back.
public struct RevocationListener: Service {
    let components: AgentHost.Components
    let store: SQLSecurityStore
    let logger: Logger
    /// Called each time LISTEN is in place, after the catch-up read: what a test awaits.
    var listening: @Sendable () -> Void = {}

    public init(components: AgentHost.Components, store: SQLSecurityStore, logger: Logger) {
        self.components = components
        self.store = store
        self.logger = logger
    }

    public func run() async {
        let components = self.components, logger = self.logger, listening = self.listening
        var failed = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown {
                    try await store.listenForRevocations(
                        onListening: {
                            // What was announced while no one listened.
                            await Self.refresh(components, logger: logger)
                            listening()
                        },
                        onNotice: {
                            components.metrics.increment("agenthost_revocation_notices_total")
                            await Self.refresh(components, logger: logger)
                        })
                }
                return  // cancelled or shutting down
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                if !failed {
                    logger.warning(
                        "the revocation listener lost the store; polling every few seconds until it is back",
                        metadata: ["error": "\(error)"])
                }
                failed = true
            }
            do {
                try await cancelWhenGracefulShutdown { try await components.ticks.sleep(for: .seconds(1)) }
            } catch {
                return
            }
        }
    }

    static func refresh(_ components: AgentHost.Components, logger: Logger) async {
        do {
            try await components.refreshRevocations()
            try await components.accounts?.refresh()
            try await components.runs?.sync()
        } catch {
            logger.warning("could not read revocations after a notice", metadata: ["error": "\(error)"])
        }
    }
}
