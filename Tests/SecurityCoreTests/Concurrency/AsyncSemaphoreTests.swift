@testable import SecurityCore
import Synchronization
import Testing

struct AsyncSemaphoreTests {
    final class Counters: Sendable {
        let state = Mutex((active: 0, peak: 0, order: [Int]()))
    }

    @Test func capsConcurrency() async throws {
        let semaphore = AsyncSemaphore(permits: 2)
        let counters = Counters()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await semaphore.withPermit {
                        counters.state.withLock {
                            $0.active += 1
                            $0.peak = max($0.peak, $0.active)
                        }
                        for _ in 0..<10 { await Task.yield() }
                        counters.state.withLock { $0.active -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = counters.state.withLock { $0 }
        #expect(final.peak == 2 && final.active == 0)
    }

    @Test func waitersAreWokenInArrivalOrder() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        let counters = Counters()
        try await semaphore.wait()  // held: everyone below queues
        var waiters: [Task<Void, any Error>] = []
        for index in 0..<5 {
            waiters.append(
                Task {
                    try await semaphore.withPermit { counters.state.withLock { $0.order.append(index) } }
                })
            // Each is queued before the next starts.
            while semaphore.queuedForTesting < index + 1 { await Task.yield() }
        }
        semaphore.signal()
        for waiter in waiters { try await waiter.value }
        #expect(counters.state.withLock { $0.order } == [0, 1, 2, 3, 4])
    }

    /// A waiter that is cancelled stops waiting at once and takes no permit: the next one still
    /// gets the permit when it is given back.
    @Test func aCancelledWaiterLeavesAtOnceAndTakesNoPermit() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.wait()
        let cancelled = Task { try await semaphore.wait() }
        while semaphore.queuedForTesting < 1 { await Task.yield() }
        let next = Task { try await semaphore.withPermit { 42 } }
        while semaphore.queuedForTesting < 2 { await Task.yield() }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        semaphore.signal()
        #expect(try await next.value == 42)
        // Every permit is back: one can be taken without waiting.
        #expect(semaphore.permitsForTesting == 1)
        #expect(semaphore.arrivingForTesting == 0)
    }

    /// A waiter cancelled after it was given its permit keeps the permit and leaves nothing behind.
    @Test func cancellingAfterThePermitCameChangesNothing() async throws {
        let semaphore = AsyncSemaphore(permits: 0)
        let holder = Task { try await semaphore.withPermit { withUnsafeCurrentTask { $0?.cancel() } } }
        while semaphore.queuedForTesting < 1 { await Task.yield() }
        semaphore.signal()
        try await holder.value
        #expect(semaphore.permitsForTesting == 1 && semaphore.queuedForTesting == 0 && semaphore.arrivingForTesting == 0)
    }

    /// Cancelled before it even queues: refused at once, nothing left waiting.
    @Test func aWaiterCancelledBeforeItQueuesIsRefused() async throws {
        let semaphore = AsyncSemaphore(permits: 0)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await semaphore.wait()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(semaphore.queuedForTesting == 0 && semaphore.arrivingForTesting == 0)
    }
}
