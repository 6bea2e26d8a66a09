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

/// A clock that only moves when told to; for tests.
public final class ManualTimeSource: TimeSource {
    private let current: Mutex<Int64>

    /// Starts the clock at `seconds` since the epoch.
    public init(_ seconds: Int64) {
        current = Mutex(seconds)
    }

    public func now() -> Int64 { current.withLock { $0 } }

    /// Moves the clock by `seconds` (negative moves it back).
    public func advance(by seconds: Int64) {
        current.withLock { $0 += seconds }
    }

    /// Sets the clock to `seconds` since the epoch.
    public func set(_ seconds: Int64) {
        current.withLock { $0 = seconds }
    }
}
