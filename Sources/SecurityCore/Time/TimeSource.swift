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

/// A monotonic clock in nanoseconds, for rate limits: it never goes back when the wall clock is set.
///
/// Only differences between two readings mean anything.
public protocol TickSource: Sendable {
    /// Nanoseconds since an arbitrary fixed point.
    func nanoseconds() -> Int64
}

/// The system's monotonic clock.
public struct SystemTickSource: TickSource {
    public init() {}

    public func nanoseconds() -> Int64 { Int64(clamping: DispatchTime.now().uptimeNanoseconds) }
}

/// A clock that only moves when told to; for tests. It serves both as a wall clock (seconds) and
/// as a tick source (nanoseconds), so one object drives token expiry and rate limits together.
public final class ManualTimeSource: TimeSource, TickSource {
    private static let nanosecondsPerSecond: Int64 = 1_000_000_000
    private let current: Mutex<Int64>  // nanoseconds since the epoch

    /// Starts the clock at `seconds` since the epoch.
    public init(_ seconds: Int64) {
        current = Mutex(seconds * Self.nanosecondsPerSecond)
    }

    public func now() -> Int64 {
        let nanoseconds = current.withLock { $0 }
        // Floor division, so a clock moved to just before a second reads that second.
        return nanoseconds >= 0
            ? nanoseconds / Self.nanosecondsPerSecond
            : -((-nanoseconds + Self.nanosecondsPerSecond - 1) / Self.nanosecondsPerSecond)
    }

    public func nanoseconds() -> Int64 { current.withLock { $0 } }

    /// Moves the clock by `seconds` (negative moves it back).
    public func advance(by seconds: Int64) {
        current.withLock { $0 += seconds * Self.nanosecondsPerSecond }
    }

    /// Moves the clock by `duration` (negative moves it back), with sub-second precision.
    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        current.withLock { $0 += seconds * Self.nanosecondsPerSecond + attoseconds / 1_000_000_000 }
    }

    /// Sets the clock to `seconds` since the epoch.
    public func set(_ seconds: Int64) {
        current.withLock { $0 = seconds * Self.nanosecondsPerSecond }
    }
}
