import Synchronization

/// A counting semaphore for async code: waiters are suspended, not blocked, woken in arrival order,
/// and a waiter whose task is cancelled stops waiting at once with `CancellationError`, taking no
/// permit. The one semaphore of this package: the password hasher bounds its concurrent hashes
/// with it, the store runs one operation at a time on its connection through it.
package final class AsyncSemaphore: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var permits: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// Waiters given an id but not queued yet. One that is cancelled in between is taken out
        /// of here, and finds itself missing when it comes to queue.
        var arriving: Set<UInt64> = []
    }

    private let state: Mutex<State>

    /// A semaphore that lets `permits` callers through at once.
    package init(permits: Int) {
        state = Mutex(State(permits: max(0, permits)))
    }

    /// Runs `body` holding a permit, and gives it back however `body` ends. Throws
    /// `CancellationError` without running `body` if the task is cancelled while it waits.
    package func withPermit<Result>(_ body: () async throws -> Result) async throws -> Result {
        try await wait()
        defer { signal() }
        return try await body()
    }

    /// Takes a permit, waiting for one if none is free.
    package func wait() async throws {
        let id: UInt64? = state.withLock { state in
            if state.permits > 0 {
                state.permits -= 1
                return nil
            }
            state.nextID += 1
            state.arriving.insert(state.nextID)
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Next { case wait, resume, cancel }
                let next: Next = state.withLock { state in
                    guard state.arriving.remove(id) != nil else { return .cancel }
                    if state.permits > 0 {
                        state.permits -= 1
                        return .resume
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .wait
                }
                switch next {
                case .wait: break
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    return state.waiters.remove(at: index)
                }
                // Not queued yet: refused when it arrives. (Already resumed: nothing to do.)
                state.arriving.remove(id)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Gives a permit back: to the longest waiter, if any.
    package func signal() {
        let next: Waiter? = state.withLock { state in
            guard !state.waiters.isEmpty else {
                state.permits += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume()
    }

    /// How many wait, and how many permits are free: for tests.
    var queuedForTesting: Int { state.withLock { $0.waiters.count } }
    var permitsForTesting: Int { state.withLock { $0.permits } }
    var arrivingForTesting: Int { state.withLock { $0.arriving.count } }
}
