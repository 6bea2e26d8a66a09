import SecurityCore
import Synchronization

/// What a caller made of opened secrets, kept while the sealed record it was made from is still
/// the one the store gives, and at most ``idleLifetime`` after its last use.
///
/// The proxy keeps the injected header and the scrubber's encoded forms of each secret version
/// here, so that a call neither opens the vault record nor derives those again: together they
/// were 15 % of the proxy's CPU under `scripts/loadtest --proxy` (Docs/BENCHMARKS.md).
///
/// The trade (Docs/THREAT_MODEL.md, "Opened secrets in memory"): bytes made from the plaintext
/// stay in memory for the life of a secret version, not of one call. They are held as
/// `SecureBytes`, wiped when the last reference goes, which is when
/// - the grant is removed or the secret is deleted (the next call's lookup finds neither),
/// - the secret changes (a new value, a rotation or re-seal: the sealed record differs),
/// - nothing used it for ``idleLifetime`` (the proxy sweeps every ``sweepInterval``),
/// - or the server stops.
/// A call that holds a value when it is dropped finishes with it, as a call holding a secret
/// always has.
final class OpenedSecretCache<Value: Sendable>: Sendable {
    /// Whose value: a scope (the upstream), the agent and the grant's env name.
    struct Key: Hashable, Sendable {
        let scope: String
        let agent: String
        let env: String
    }

    private struct Kept {
        let record: VaultRecordRow
        let value: Value
        /// The secret itself, for the log redactor to keep learning while the value is in use.
        let secret: SecureBytes
        var lastUsed: Int64
    }

    /// How long a value nothing uses is kept: 60 seconds.
    static var defaultIdleLifetime: Duration { .seconds(60) }
    /// How often the owner sweeps idle values out: 15 seconds.
    static var sweepInterval: Duration { .seconds(15) }
    /// The most values kept; past it, idle ones are swept, and a new value is not kept until
    /// there is room (its call opens the record itself).
    static var capacity: Int { 10_000 }

    private let entries = Mutex<[Key: Kept]>([:])
    /// What idleness is read on.
    let ticks: any TickSource
    let idleLifetime: Duration

    init(ticks: any TickSource, idleLifetime: Duration = OpenedSecretCache.defaultIdleLifetime) {
        self.ticks = ticks
        self.idleLifetime = idleLifetime
    }

    /// The value kept for `key`, and the secret it was made from, if it was made from exactly
    /// `record` and has not been idle too long; a value made from another record is dropped.
    func value(for key: Key, record: VaultRecordRow) -> (value: Value, secret: SecureBytes)? {
        let now = ticks.nanoseconds()
        return entries.withLock { entries in
            guard var kept = entries[key] else { return nil }
            guard kept.record == record, now - kept.lastUsed < idleLifetime.wholeNanoseconds else {
                entries[key] = nil
                return nil
            }
            kept.lastUsed = now
            entries[key] = kept
            return (kept.value, kept.secret)
        }
    }

    /// Keeps `value`, made from `secret` as sealed in `record`, for `key`.
    func keep(_ value: Value, for key: Key, record: VaultRecordRow, secret: SecureBytes) {
        let now = ticks.nanoseconds()
        entries.withLock { entries in
            if entries[key] == nil, entries.count >= Self.capacity {
                Self.dropIdle(&entries, now: now, idleLifetime: idleLifetime)
                guard entries.count < Self.capacity else { return }
            }
            entries[key] = Kept(record: record, value: value, secret: secret, lastUsed: now)
        }
    }

    /// Drops the value kept for `key`: its grant or its secret is gone.
    func forget(_ key: Key) {
        entries.withLock { $0[key] = nil }
    }

    /// Drops every value idle for ``idleLifetime`` or longer.
    func sweep() {
        let now = ticks.nanoseconds()
        entries.withLock { Self.dropIdle(&$0, now: now, idleLifetime: idleLifetime) }
    }

    /// Drops every value.
    func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    /// How many values are kept.
    var count: Int { entries.withLock { $0.count } }

    private static func dropIdle(_ entries: inout [Key: Kept], now: Int64, idleLifetime: Duration) {
        let limit = idleLifetime.wholeNanoseconds
        entries = entries.filter { now - $0.value.lastUsed < limit }
    }
}
