import Foundation

// Swift's async tests share one small pool of threads: two on a 2-core machine. A test that
// blocks one of them (waiting on a child process, or polling a socket) stalls every other test,
// and an in-process server that needs the pool to answer can stall until a timeout. Every wait
// on a socket, on a server or on a child process that may run for long goes through `offThePool`
// instead; only short local commands (a `git commit` in a scratch repository) run in place.

/// Runs the blocking `work` on a thread of its own and waits for it without holding a thread of
/// the shared pool.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs the blocking `work` on a thread of its own and waits for it without holding a thread of
/// the shared pool.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

extension Process {
    /// Waits until the process has exited, off the shared pool.
    func exited() async {
        await offThePool { self.waitUntilExit() }
    }

    /// Sends SIGKILL and returns at once; a thread of its own reaps the process. For a `defer`,
    /// which cannot wait.
    func killInBackground() {
        if isRunning { kill(processIdentifier, SIGKILL) }
        Thread { self.waitUntilExit() }.start()
    }
}
