import Synchronization

/// Lets one task at a time through, in arrival order, without blocking a thread while waiting.
///
/// The store talks to its database over one connection, so a transaction (`BEGIN` ... `COMMIT`)
/// must not let another task's statement run in between: every operation passes this gate.
final class SerialGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Runs `body` once every earlier caller has finished.
    func run<Result>(_ body: () async throws -> Result) async throws -> Result {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        let free = state.withLock { state in
            guard state.busy else {
                state.busy = true
                return true
            }
            return false
        }
        if free { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state in
                guard state.busy else {
                    state.busy = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst()  // stays busy: handed straight to the next waiter
        }
        next?.resume()
    }
}
