import ServiceLifecycle

/// Runs `body` every `interval` (the first time after one interval) until the service group
/// begins its graceful shutdown or the task is cancelled. What a background ``Service`` loops on,
/// instead of `while !Task.isCancelled` with a sleep that shutdown cannot interrupt.
func repeatUntilShutdown(every interval: Duration, _ body: () async -> Void) async {
    while !Task.isCancelled, !Task.isShuttingDownGracefully {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } catch {
            return  // cancelled, or the shutdown began during the sleep
        }
        await body()
    }
}
