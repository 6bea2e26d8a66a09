import Synchronization

/// Where a verifier asks whether a token was revoked: by its id, or by its agent ("every token of
/// this agent issued before T").
///
/// Checks are synchronous and sit on every request, so an implementation backed by a database
/// should answer from memory and refresh that memory in the background.
public protocol RevocationList: Sendable {
    /// Whether a token with these claims has been revoked.
    func isRevoked(_ claims: AgentTokenClaims) -> Bool
    /// Revokes one token. `expiresAt` lets the list forget the entry once the token is dead anyway.
    func revoke(tokenID: TokenID, expiresAt: Int64)
    /// Revokes every token of `agent` issued before `issuedBefore` (seconds since the epoch).
    func revokeAll(of agent: AgentID, issuedBefore: Int64)
}

/// A ``RevocationList`` in process memory; lost on restart.
///
/// Entries for single tokens are forgotten once the token would have expired anyway, so memory is
/// bounded by the number of live revoked tokens.
public final class InMemoryRevocationList: RevocationList {
    private struct State {
        var tokens: [TokenID: Int64] = [:]
        var agents: [AgentID: Int64] = [:]
        var pruneAt = 1024
    }

    private let state = Mutex(State())
    private let clock: any TimeSource

    /// Creates an empty list; `clock` decides when revoked-token entries can be dropped.
    public init(clock: any TimeSource = SystemTimeSource()) {
        self.clock = clock
    }

    public func isRevoked(_ claims: AgentTokenClaims) -> Bool {
        state.withLock { state in
            if state.tokens.isEmpty && state.agents.isEmpty { return false }
            if state.tokens[claims.tokenID] != nil { return true }
            if let notBefore = state.agents[claims.agent], claims.issuedAt < notBefore { return true }
            return false
        }
    }

    /// Whether the token `tokenID` was revoked by its id (agent-wide revocations not considered).
    public func isRevoked(tokenID: TokenID) -> Bool {
        state.withLock { $0.tokens[tokenID] != nil }
    }

    public func revoke(tokenID: TokenID, expiresAt: Int64) {
        let now = clock.now()
        state.withLock { state in
            state.tokens[tokenID] = expiresAt
            if state.tokens.count >= state.pruneAt {
                state.tokens = state.tokens.filter { $0.value >= now }
                state.pruneAt = max(1024, state.tokens.count * 2)
            }
        }
    }

    public func revokeAll(of agent: AgentID, issuedBefore: Int64) {
        state.withLock { state in
            state.agents[agent] = max(state.agents[agent] ?? .min, issuedBefore)
        }
    }

    /// How many single-token entries are held (for tests and metrics).
    public var revokedTokenCount: Int { state.withLock { $0.tokens.count } }
}
