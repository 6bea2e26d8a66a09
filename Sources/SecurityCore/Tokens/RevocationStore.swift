/// Where revocations persist, so they survive a restart and reach every server sharing the store.
///
/// Verification never waits on it: a server loads the revocations into its
/// ``InMemoryRevocationList`` at start and refreshes them in the background (``StoredRevocations/apply(to:)``).
public protocol RevocationStore: Sendable {
    /// Records that token `tokenID` is revoked; the entry may be dropped after `expiresAt`.
    func recordRevocation(tokenID: TokenID, expiresAt: Int64, at now: Int64) async throws
    /// Records that every token of `agent` issued before `issuedBefore` is revoked. A later call
    /// with an earlier time never undoes a later one.
    func recordRevocation(agent: AgentID, issuedBefore: Int64, at now: Int64) async throws
    /// The revocations still in force at `now`.
    func revocations(now: Int64) async throws -> StoredRevocations
    /// Drops token entries whose token has expired by `now`; how many.
    func pruneRevocations(now: Int64) async throws -> Int
}

/// Revocations read from a ``RevocationStore``.
public struct StoredRevocations: Hashable, Sendable {
    /// A revoked token and when it would have expired.
    public struct Token: Hashable, Sendable {
        public let id: TokenID
        public let expiresAt: Int64

        public init(id: TokenID, expiresAt: Int64) {
            self.id = id
            self.expiresAt = expiresAt
        }
    }

    public var tokens: [Token]
    /// Per agent, the time before which its tokens are revoked.
    public var agents: [AgentID: Int64]

    public init(tokens: [Token] = [], agents: [AgentID: Int64] = [:]) {
        self.tokens = tokens
        self.agents = agents
    }

    /// Adds every entry to `list`; applying the same revocations twice changes nothing.
    public func apply(to list: any RevocationList) {
        for token in tokens { list.revoke(tokenID: token.id, expiresAt: token.expiresAt) }
        for (agent, issuedBefore) in agents { list.revokeAll(of: agent, issuedBefore: issuedBefore) }
    }
}
