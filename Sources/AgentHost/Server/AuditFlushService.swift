public import Logging
public import SecurityCore
public import ServiceLifecycle

/// Writes the events an ``AuditRecorder`` queued, every second while the server runs and once more
/// when it stops, so nothing a request recorded is lost to a shutdown.
///
/// Add it to the application's services before the HTTP server: a service group stops its services
/// in reverse order, so this one stops after the last request has been answered.
public struct AuditFlushService: Service {
    let recorder: AuditRecorder
    let interval: Duration
    let logger: Logger
    let ticks: any TickSource

    /// Flushes every `interval` of `ticks`.
    public init(recorder: AuditRecorder, interval: Duration = .seconds(1), logger: Logger, ticks: any TickSource = SystemTickSource()) {
        self.recorder = recorder
        self.interval = interval
        self.logger = logger
        self.ticks = ticks
    }

    public func run() async {
        await repeatUntilShutdown(every: interval, on: ticks) { await flush() }
        await flush()
    }

    private func flush() async {
        do {
            try await recorder.flush()
        } catch {
            logger.error("could not write the audit log; events stay queued (bounded)", metadata: ["error": "\(error)"])
        }
    }
}
