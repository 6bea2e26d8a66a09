import Synchronization

/// When each browser session was last used, for the idle timeout: what this server saw, and what
/// the other servers sharing the store reported.
///
/// The request path only reads and writes memory (``use(_:begunAt:at:idleTimeout:)``). A
/// background task hands what this server saw to the store (``takeSeen()``) and brings back what
/// every server saw (``merge(_:forgetBefore:)``), so a session busy on one server does not go idle on another;
/// the idle timeout is then exact to within that task's period.
public final class SessionActivity: Sendable {
    private struct State {
        /// The newest time each session was seen, here or anywhere.
        var lastSeen: [TokenID: Int64] = [:]
        /// Seen here since the last ``takeSeen()``.
        var seenHere: [TokenID: Int64] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Records that session `id` was used at `now` (seconds).
    public func touch(_ id: TokenID, at now: Int64) {
        state.withLock { state in
            // A session is used many times a second; the dictionaries change once per second.
            if let seen = state.lastSeen[id], seen >= now { return }
            state.lastSeen[id] = now
            state.seenHere[id] = now
        }
    }

    /// Whether session `id`, begun at `begunAt`, has been used within `idleTimeout` seconds of
    /// `now` (here, on a server that reported it, or by beginning); if so it is used again now.
    /// One lock for both: the request path calls this for every session it admits.
    public func use(_ id: TokenID, begunAt: Int64, at now: Int64, idleTimeout: Int64) -> Bool {
        state.withLock { state in
            let seen = max(state.lastSeen[id] ?? begunAt, begunAt)
            guard now - seen <= idleTimeout else { return false }
            if seen < now {
                state.lastSeen[id] = now
                state.seenHere[id] = now
            }
            return true
        }
    }

    /// When session `id` was last seen, here or on a server that reported it; `nil` if never.
    public func lastSeen(_ id: TokenID) -> Int64? {
        state.withLock { $0.lastSeen[id] }
    }

    /// What this server saw since the last call, for the store.
    public func takeSeen() -> [TokenID: Int64] {
        state.withLock { state in
            defer { state.seenHere = [:] }
            return state.seenHere
        }
    }

    /// Puts back what ``takeSeen()`` gave when the store could not take it, for the next report.
    public func putBack(_ seen: [TokenID: Int64]) {
        state.withLock { state in
            for (id, time) in seen where time > state.seenHere[id] ?? .min { state.seenHere[id] = time }
        }
    }

    /// Takes in what the store says every server saw, and forgets sessions not seen since
    /// `forgetBefore` (they are idle anyway, and a later use would be refused).
    public func merge(_ reported: [TokenID: Int64], forgetBefore: Int64) {
        state.withLock { state in
            for (id, seen) in reported where seen > state.lastSeen[id] ?? .min {
                state.lastSeen[id] = seen
            }
            state.lastSeen = state.lastSeen.filter { $0.value >= forgetBefore }
        }
    }

    /// Drops session `id` (it ended).
    public func forget(_ id: TokenID) {
        state.withLock { state in
            state.lastSeen[id] = nil
            state.seenHere[id] = nil
        }
    }

    /// How many sessions are tracked.
    public var count: Int { state.withLock { $0.lastSeen.count } }
}
