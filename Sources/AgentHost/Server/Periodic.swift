import SecurityCore
import ServiceLifecycle

/// Runs `body` every `interval` of `ticks` (the first time after one interval) until the service
/// group begins its graceful shutdown or the task is cancelled. What a background ``Service``
/// loops on, instead of `while !Task.isCancelled` with a sleep that shutdown cannot interrupt; a
/// test drives it by advancing a ``ManualTimeSource``.
func repeatUntilShutdown(every interval: Duration, on ticks: any TickSource, _ body: () async -> Void) async {
    while !Task.isCancelled, !Task.isShuttingDownGracefully {
        do {
            try await cancelWhenGracefulShutdown { try await ticks.sleep(for: interval) }
        } catch {
            return  // cancelled, or the shutdown began during the sleep
        }
        await body()
    }
}
