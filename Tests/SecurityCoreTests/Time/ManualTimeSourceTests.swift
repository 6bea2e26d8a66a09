@testable import SecurityCore
import Synchronization
import Testing

/// The test clock: it reads as it is told, and a task sleeping on it wakes when, and only when,
/// the clock is moved past its deadline.
@Suite(.timeLimit(.minutes(1)))
struct ManualTimeSourceTests {
    /// What the sleepers did, in order.
    final class Woken: Sendable {
        private let order = Mutex<[Int]>([])
        func append(_ value: Int) { order.withLock { $0.append(value) } }
        var values: [Int] { order.withLock { $0 } }
    }

    @Test func sleepersWakeInDeadlineOrderWhenTheClockPassesThem() async throws {
        let clock = ManualTimeSource(1_800_000_000)
        let woken = Woken()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for seconds in [3, 1, 2] {
                group.addTask {
                    try await clock.sleep(for: .seconds(seconds))
                    woken.append(seconds)
                }
            }
            await clock.sleepers(atLeast: 3)
            clock.advance(by: .milliseconds(999))
            #expect(clock.sleeperCount == 3 && woken.values.isEmpty)
            clock.advance(by: .milliseconds(1))
            await clock.sleepers(atLeast: 2)  // still two asleep
            clock.advance(by: .seconds(2))
            try await group.waitForAll()
        }
        #expect(Set(woken.values) == [1, 2, 3])
        #expect(woken.values.first == 1)
        #expect(clock.now() == 1_800_000_003 && clock.sleeperCount == 0)
    }

    @Test func aZeroSleepReturnsAndACancelledSleepThrows() async throws {
        let clock = ManualTimeSource(0)
        try await clock.sleep(for: .zero)
        let sleeper = Task { try await clock.sleep(for: .seconds(60)) }
        await clock.sleepers(atLeast: 1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
        // Cancelled before it sleeps: it never waits.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(for: .seconds(60))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(clock.pendingCancellations == 0)
    }

    /// A cancellation that arrives as the clock wakes its sleeper finds nothing to cancel, and
    /// leaves nothing behind (it used to be kept for a registration that never came).
    @Test func cancellationsRacingTheWakeLeaveNothingBehind() async throws {
        let clock = ManualTimeSource(0)
        for _ in 0..<300 {
            let sleeper = Task { try? await clock.sleep(for: .seconds(1)) }
            await clock.sleepers(atLeast: 1)
            async let cancelling: Void = sleeper.cancel()
            clock.advance(by: .seconds(1))
            await cancelling
            await sleeper.value
        }
        #expect(clock.pendingCancellations == 0 && clock.sleeperCount == 0)
    }

    @Test func itReadsInSecondsAndNanosecondsAlike() {
        let clock = ManualTimeSource(10)
        clock.advance(by: .milliseconds(1500))
        #expect(clock.now() == 11 && clock.nanoseconds() == 11_500_000_000)
        clock.advance(by: -2)
        #expect(clock.now() == 9)
        clock.set(-1)
        clock.advance(by: .milliseconds(500))
        #expect(clock.now() == -1)
    }
}
