public import Logging
public import SecurityCore
public import ServiceLifecycle

/// Feeds the operator stream (`GET /ws/system`) from the audit log: key rotations, revocations and
/// refusals made by this server, the command line or another server sharing the store. When the
/// server stops, it ends every open stream.
public struct SystemEventRelay: Service {
    let events: SystemEvents
    let store: any AuditLogStore
    let start: UInt64
    let interval: Duration
    let logger: Logger
    let ticks: any TickSource

    /// Relays the records after sequence number `start`, every `interval` of `ticks`.
    public init(
        events: SystemEvents, store: any AuditLogStore, after start: UInt64, interval: Duration = .seconds(1), logger: Logger,
        ticks: any TickSource = SystemTickSource()
    ) {
        self.events = events
        self.store = store
        self.start = start
        self.interval = interval
        self.logger = logger
        self.ticks = ticks
    }

    public func run() async {
        var last = start
        await repeatUntilShutdown(every: interval, on: ticks) {
            do {
                last = try await events.relay(from: store, after: last)
            } catch {
                logger.warning("could not read the audit log for the operator stream", metadata: ["error": "\(error)"])
            }
        }
        events.finishAll()
    }
}
