import Foundation
import Synchronization

/// Where token code reads the current time, in whole seconds since 1970-01-01 UTC.
///
/// Production code uses ``SystemTimeSource``; tests inject a ``ManualTimeSource`` and move it.
public protocol TimeSource: Sendable {
    /// The current time in seconds since the Unix epoch.
    func now() -> Int64
}

/// The system's wall clock.
public struct SystemTimeSource: TimeSource {
    public init() {}

    public func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}

/// A monotonic clock in nanoseconds: what rate limits, caches, timers and deadlines read. It never
/// goes back when the wall clock is set.
///
/// Only differences between two readings mean anything. Every timer of AgentHost sleeps on the
/// tick source it was given, so a test that passes a ``ManualTimeSource`` moves them all by
/// advancing it, and never waits for real time to pass.
public protocol TickSource: Sendable {
    /// Nanoseconds since an arbitrary fixed point.
    func nanoseconds() -> Int64

    /// Suspends until `duration` has passed on this clock. Throws `CancellationError` when the
    /// task is cancelled first.
    func sleep(for duration: Duration) async throws
}

extension TickSource {
    /// Sleeps in real time: the system's clock.
    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// The system's monotonic clock.
public struct SystemTickSource: TickSource {
    public init() {}

    public func nanoseconds() -> Int64 { Int64(clamping: DispatchTime.now().uptimeNanoseconds) }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    package var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).overflow ? .max : scaled + attoseconds / 1_000_000_000
    }
}

/// A clock that only moves when told to; for tests. It serves both as a wall clock (seconds) and
/// as a tick source (nanoseconds), so one object drives token expiry, rate limits, caches and
/// timers together: a task sleeping on it wakes when ``advance(by:)-(Duration)`` moves the clock
/// past its deadline, never in real time.
///
/// ```swift
/// let clock = ManualTimeSource(1_800_000_000)
/// let service = Task { try await clock.sleep(for: .seconds(3)); flushed = true }
/// await clock.sleepers(atLeast: 1)       // the service is waiting on the clock
/// clock.advance(by: .seconds(3))         // ... and wakes now
/// ```
public final class ManualTimeSource: TimeSource, TickSource {
    private static let nanosecondsPerSecond: Int64 = 1_000_000_000

    private struct Sleeper {
        let deadline: Int64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var current: Int64  // nanoseconds since the epoch
        var sleepers: [Int: Sleeper] = [:]
        /// Sleepers given an id and not yet registered or finished.
        var unregistered: Set<Int> = []
        /// Sleepers cancelled before they were registered.
        var cancelled: Set<Int> = []
        var nextID = 0
        /// Tasks waiting for a number of sleepers.
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    /// Starts the clock at `seconds` since the epoch.
    public init(_ seconds: Int64) {
        state = Mutex(State(current: seconds * Self.nanosecondsPerSecond))
    }

    public func now() -> Int64 {
        let nanoseconds = self.nanoseconds()
        // Floor division, so a clock moved to just before a second reads that second.
        return nanoseconds >= 0
            ? nanoseconds / Self.nanosecondsPerSecond
            : -((-nanoseconds + Self.nanosecondsPerSecond - 1) / Self.nanosecondsPerSecond)
    }

    public func nanoseconds() -> Int64 { state.withLock { $0.current } }

    /// Suspends until the clock is advanced `duration` past now (at once when `duration` is not
    /// positive).
    public func sleep(for duration: Duration) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            state.unregistered.insert(state.nextID)
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resume, watchers) = state.withLock { state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    state.unregistered.remove(id)
                    if state.cancelled.remove(id) != nil { return (.failure(CancellationError()), []) }
                    let deadline = state.current &+ duration.wholeNanoseconds
                    if deadline <= state.current { return (.success(()), []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (nil, Self.satisfiedWatchers(&state))
                }
                for watcher in watchers { watcher.resume() }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper }
                // Not registered yet: its registration finds it cancelled. Already woken: nothing to do.
                if state.unregistered.contains(id) { state.cancelled.insert(id) }
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// How many tasks are sleeping on the clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// How many cancellations are kept for sleepers not yet registered: none once every sleeper
    /// has registered or finished.
    var pendingCancellations: Int { state.withLock { $0.cancelled.count } }

    /// Returns once at least `count` tasks are sleeping on the clock: what a test awaits before
    /// it advances the clock past a timer, so the timer is sure to be waiting.
    public func sleepers(atLeast count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                guard state.sleepers.count < count else { return true }
                state.watchers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    private static func satisfiedWatchers(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        let count = state.sleepers.count
        let ready = state.watchers.filter { $0.count <= count }.map(\.continuation)
        state.watchers.removeAll { $0.count <= count }
        return ready
    }

    /// Moves the clock by `seconds` (negative moves it back).
    public func advance(by seconds: Int64) {
        move { $0 += seconds * Self.nanosecondsPerSecond }
    }

    /// Moves the clock by `duration` (negative moves it back), with sub-second precision, and
    /// wakes every sleeper whose deadline it reaches.
    public func advance(by duration: Duration) {
        move { $0 &+= duration.wholeNanoseconds }
    }

    /// Sets the clock to `seconds` since the epoch.
    public func set(_ seconds: Int64) {
        move { $0 = seconds * Self.nanosecondsPerSecond }
    }

    private func move(_ change: (inout Int64) -> Void) {
        let woken = state.withLock { state -> [Sleeper] in
            change(&state.current)
            let due = state.sleepers.filter { $0.value.deadline <= state.current }
            for id in due.keys { state.sleepers[id] = nil }
            return due.sorted { $0.value.deadline < $1.value.deadline }.map(\.value)
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }
}
