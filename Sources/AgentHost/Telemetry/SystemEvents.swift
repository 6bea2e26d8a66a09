import Foundation
public import SecurityCore
import Synchronization

/// The live feed behind `GET /ws/system`: security events as JSON lines, for operators.
///
/// - Refusals (failed authentications, policy denials, rate-limit refusals) are published by
///   ``SecurityMiddleware`` as they happen on this server.
/// - Key rotations and revocations (and the ends of credentials: a deleted user, key or device, a
///   password change) are read from the audit log by `follow(_:after:every:)`, so those made by
///   the command line or by another server sharing the store appear too.
///
/// Each subscriber has a buffer of ``bufferSize`` lines; a reader that falls further behind loses the
/// oldest. At most ``maximumSubscribers`` watch at once. Nothing is built when nobody watches.
public final class SystemEvents: Sendable {
    /// Lines a slow subscriber may fall behind before the oldest are dropped.
    public let bufferSize: Int
    /// Streams open at once.
    public let maximumSubscribers: Int
    let clock: any TimeSource

    private struct State {
        var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
        var next = 0
    }

    private let state = Mutex(State())
    /// Mirrors `!state.subscribers.isEmpty`, so a refusal costs one atomic load when nobody watches.
    private let watched = Atomic<Int>(0)

    public init(bufferSize: Int = 1_000, maximumSubscribers: Int = 32, clock: any TimeSource = SystemTimeSource()) {
        self.bufferSize = max(1, bufferSize)
        self.maximumSubscribers = max(1, maximumSubscribers)
        self.clock = clock
    }

    /// Whether anybody is subscribed.
    public var isWatched: Bool { watched.load(ordering: .relaxed) > 0 }

    /// Whether another subscriber would be accepted.
    public var hasRoom: Bool { state.withLock { $0.subscribers.count < maximumSubscribers } }

    /// A new subscription, or `nil` when ``maximumSubscribers`` are already watching. Call
    /// ``unsubscribe(_:)`` with the id when done.
    public func subscribe() -> (id: Int, lines: AsyncStream<String>)? {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id: Int? = state.withLock { state in
            guard state.subscribers.count < maximumSubscribers else { return nil }
            state.next += 1
            state.subscribers[state.next] = continuation
            watched.store(state.subscribers.count, ordering: .relaxed)
            return state.next
        }
        guard let id else { return nil }
        return (id, stream)
    }

    public func unsubscribe(_ id: Int) {
        let continuation = state.withLock { state in
            let removed = state.subscribers.removeValue(forKey: id)
            watched.store(state.subscribers.count, ordering: .relaxed)
            return removed
        }
        continuation?.finish()
    }

    /// Sends an event of `type` with `fields` (never a secret) to every subscriber, stamped now.
    public func publish(_ type: String, _ fields: [String: String]) {
        guard isWatched else { return }
        var event = fields
        event["type"] = type
        if event["time"] == nil { event["time"] = Self.timestamp(milliseconds: clock.now() * 1000) }
        let line = Self.line(event)
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(line) }
    }

    /// Ends every subscription (at shutdown).
    public func finishAll() {
        let subscribers = state.withLock { state in
            defer {
                state.subscribers.removeAll()
                watched.store(0, ordering: .relaxed)
            }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// One JSON object on one line, keys sorted. Control characters in values are escaped, so no
    /// field can start a line of its own.
    static func line(_ event: [String: String]) -> String {
        JSONValue.object(event.mapValues { .string($0) }).json + "\n"
    }

    static func timestamp(milliseconds: Int64) -> String {
        // Whole seconds, rounded down, in UTC with its `Z` (the format used before left the zone out).
        UTCTimestamp.string(seconds: milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
    }

    /// The stream's event type for a refusal recorded as the audit action `action`.
    static func type(ofRefusal action: String) -> String {
        switch action {
        case "auth.failed": "auth_failure"
        case "rate.limited": "rate_limited"
        default: "denied"
        }
    }

    /// The audit actions the stream relays, and the event type each becomes.
    public static let relayedActions: [String: String] = [
        "keys.rotated": "key_rotation", "keys.retired": "key_rotation", "vault.rotated": "key_rotation",
        "token.revoked": "revocation", "user.deleted": "revocation", "user.password_set": "revocation",
        "key.deleted": "revocation", "device.deleted": "revocation",
    ]

    /// Publishes the relayed audit records after `sequence`, and returns the last sequence read.
    public func relay(from store: any AuditLogStore, after sequence: UInt64, limit: Int = 500) async throws -> UInt64 {
        var last = sequence
        while true {
            let records = try await store.auditRecords(after: last, limit: limit, actor: nil, action: nil)
            for record in records {
                last = record.sequence
                guard let type = Self.relayedActions[record.event.action] else { continue }
                publish(
                    type,
                    [
                        "action": record.event.action, "actor": record.event.actor, "target": record.event.target,
                        "sequence": "\(record.sequence)", "time": Self.timestamp(milliseconds: record.event.time),
                    ])
            }
            if records.count < limit { return last }
        }
    }
}
