public import SecurityCore
import Logging
import Synchronization

/// Hands events to the ``AuditTrail`` without making a request wait for the database.
///
/// - ``record(_:)`` queues an event; ``flush()`` (every second while the server runs, and at
///   shutdown) appends the queue in one transaction.
/// - Refusals (failed authentications, policy denials, rate-limit refusals, failed logins) are
///   aggregated: one record per (action, code, rule, client, actor, target) and flush, with
///   `details.count`, so a flood of refusals costs a few records a second, not one per request.
/// - The queue and the aggregation table are bounded; what does not fit is counted and recorded
///   as `audit.dropped`, so a gap in what was kept is itself in the log.
public final class AuditRecorder: Sendable {
    struct RefusalKey: Hashable {
        let action: String
        let code: String
        let rule: String
        let client: String
        let actor: String
        let target: String
    }

    /// Refusals of one kind between two flushes: when, how many, and the first and last request.
    struct Aggregate {
        var first: Int64
        var last: Int64
        var count: Int
        var firstRequest: String
        var lastRequest: String
    }

    /// Proxied calls of one kind: one agent, upstream, method, path rule and status.
    struct CallKey: Hashable {
        let agent: String
        let upstream: String
        let method: String
        let template: String
        let status: Int
        let outcome: String
    }

    /// Calls of one kind between two flushes: when, how many, bytes each way, and time spent.
    struct CallAggregate {
        var first: Int64
        var last: Int64
        var count: Int
        var sent: Int
        var received: Int
        var milliseconds: Int64
        var longest: Int64
        var firstRequest: String
        var lastRequest: String
    }

    struct Pending {
        var events: [AuditEvent] = []
        var refusals: [RefusalKey: Aggregate] = [:]
        var calls: [CallKey: CallAggregate] = [:]
        var dropped = 0
    }

    public let trail: AuditTrail
    private let pending = Mutex(Pending())
    /// The most events and distinct refusals held between flushes.
    public let capacity: Int

    /// Counts the records appended, when given.
    let metrics: AgentHostMetrics?

    public init(trail: AuditTrail, capacity: Int = 10_000, metrics: AgentHostMetrics? = nil) {
        self.trail = trail
        self.capacity = max(1, capacity)
        self.metrics = metrics
    }

    /// Queues `event` for the next flush.
    public func record(_ event: AuditEvent) {
        let capacity = self.capacity
        pending.withLock { pending in
            if pending.events.count < capacity { pending.events.append(event) } else { pending.dropped += 1 }
        }
    }

    /// Counts one refusal toward its aggregate record.
    public func recordRefusal(
        action: String, code: String, rule: String? = nil, client: String, actor: String, target: String, requestID: String = ""
    ) {
        let key = RefusalKey(
            action: action, code: code, rule: rule ?? code, client: client, actor: actor,
            target: target.utf8.count <= 256 ? target : String(target.prefix(256))
        )
        let now = trail.nowMilliseconds, capacity = self.capacity
        pending.withLock { pending in
            if var entry = pending.refusals[key] {
                entry.last = now
                entry.count += 1
                entry.lastRequest = requestID
                pending.refusals[key] = entry
            } else if pending.refusals.count < capacity {
                pending.refusals[key] = Aggregate(first: now, last: now, count: 1, firstRequest: requestID, lastRequest: requestID)
            } else {
                pending.dropped += 1
            }
        }
    }

    /// Counts one proxied call toward its aggregate record (`proxy.call`): per agent, upstream,
    /// method, path rule, status and outcome (`complete`, `interrupted`, `revoked`, or the problem
    /// code of a call that got no answer).
    func recordProxyCall(
        agent: String, upstream: String, method: String, template: String, status: Int, sent: Int, received: Int,
        duration: Duration, outcome: String, requestID: String
    ) {
        let key = CallKey(agent: agent, upstream: upstream, method: method, template: template, status: status, outcome: outcome)
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let now = trail.nowMilliseconds, capacity = self.capacity
        pending.withLock { pending in
            if var entry = pending.calls[key] {
                entry.last = now
                entry.count += 1
                entry.sent += sent
                entry.received += received
                entry.milliseconds += milliseconds
                entry.longest = max(entry.longest, milliseconds)
                entry.lastRequest = requestID
                pending.calls[key] = entry
            } else if pending.calls.count < capacity {
                pending.calls[key] = CallAggregate(
                    first: now, last: now, count: 1, sent: sent, received: received, milliseconds: milliseconds, longest: milliseconds,
                    firstRequest: requestID, lastRequest: requestID)
            } else {
                pending.dropped += 1
            }
        }
    }

    /// The most refusal summaries logged per flush; the rest are counted in one line.
    static let loggedRefusalKinds = 20

    /// One log line per kind of refusal since the last flush, most frequent first, with its count:
    /// a flood of bad requests costs a few lines a second, not one per request.
    private func logRefusals(_ refusals: [RefusalKey: Aggregate]) {
        guard !refusals.isEmpty else { return }
        let logger = trail.logger
        let ordered = refusals.sorted { $0.value.count > $1.value.count }
        for (key, entry) in ordered.prefix(Self.loggedRefusalKinds) {
            logger.notice(
                "requests refused",
                metadata: [
                    "action": .string(key.action), "code": .string(key.code), "count": .stringConvertible(entry.count),
                    "client": .string(key.client), "actor": .string(key.actor), "request": .string(key.target),
                ]
            )
        }
        if ordered.count > Self.loggedRefusalKinds {
            let rest = ordered.dropFirst(Self.loggedRefusalKinds)
            logger.notice(
                "requests refused, other kinds",
                metadata: ["kinds": .stringConvertible(rest.count), "count": .stringConvertible(rest.reduce(0) { $0 + $1.value.count })]
            )
        }
    }

    /// Appends everything queued; on a store failure the events go back to the queue (within its
    /// bound) and the error is thrown.
    public func flush() async throws {
        let taken = pending.withLock { pending -> Pending in
            let taken = pending
            pending = Pending()
            return taken
        }
        var events = taken.events
        for (key, entry) in taken.refusals.sorted(by: { $0.value.first < $1.value.first }) {
            var details = ["count": String(entry.count), "last": String(entry.last), "code": key.code]
            if entry.count > 1 { details["last_request_id"] = entry.lastRequest }
            events.append(
                AuditEvent(
                    time: entry.first, actor: key.actor, action: key.action, target: key.target, decision: "deny", rule: key.rule,
                    requestID: entry.firstRequest, client: key.client, details: details
                ))
        }
        for (key, entry) in taken.calls.sorted(by: { $0.value.first < $1.value.first }) {
            var details = [
                "count": String(entry.count), "last": String(entry.last), "method": key.method, "path": key.template,
                "status": String(key.status), "outcome": key.outcome, "bytes_sent": String(entry.sent),
                "bytes_received": String(entry.received), "duration_ms": String(entry.milliseconds),
                "longest_ms": String(entry.longest),
            ]
            if entry.count > 1 { details["last_request_id"] = entry.lastRequest }
            events.append(
                AuditEvent(
                    time: entry.first, actor: key.agent, action: "proxy.call", target: key.upstream,
                    decision: key.outcome == "complete" ? "ok" : "error", requestID: entry.firstRequest, details: details
                ))
        }
        logRefusals(taken.refusals)
        if taken.dropped > 0 {
            events.append(
                AuditEvent(
                    time: trail.nowMilliseconds, actor: "agenthost", action: "audit.dropped", decision: "ok",
                    details: ["count": String(taken.dropped)]
                ))
        }
        guard !events.isEmpty else { return }
        do {
            try await trail.append(events)
            metrics?.increment("agenthost_audit_appends_total", by: events.count)
        } catch {
            let capacity = self.capacity
            pending.withLock { pending in
                let room = max(0, capacity - pending.events.count)
                pending.events.insert(contentsOf: events.prefix(room), at: 0)
                pending.dropped += max(0, events.count - room)
            }
            throw error
        }
    }
}
