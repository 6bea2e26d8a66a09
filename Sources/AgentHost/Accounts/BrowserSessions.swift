public import SecurityCore

/// The sessions of people signed in at the portal: begun, listed and ended here, kept in the
/// store every server shares (Docs/SIGN_IN.md).
///
/// Ending a session records the revocation of its token id in the store, which announces it:
/// every server refuses the cookie as soon as it hears (PostgreSQL's LISTEN/NOTIFY), or at its
/// next refresh. Activity for the idle timeout is kept in memory (``activity``) and exchanged
/// with the store by ``sync()``.
public final class BrowserSessions: Sendable {
    /// Where sessions are recorded.
    public let store: any BrowserSessionStore
    /// When each session was last used, here and on the other servers.
    public let activity = SessionActivity()
    /// The portal's settings: lifetimes, cookie.
    public let portal: PortalConfiguration
    let revocations: InMemoryRevocationList
    let revocationStore: (any RevocationStore)?
    let clock: any TimeSource
    /// Second factors for sign-in; `nil` signs in with the password alone.
    public let secondFactors: SecondFactors?

    public init(
        store: any BrowserSessionStore, portal: PortalConfiguration, revocations: InMemoryRevocationList,
        revocationStore: (any RevocationStore)?, clock: any TimeSource, secondFactors: SecondFactors? = nil
    ) {
        self.secondFactors = secondFactors
        self.store = store
        self.portal = portal
        self.revocations = revocations
        self.revocationStore = revocationStore
        self.clock = clock
    }

    /// The idle timeout in seconds.
    var idleTimeout: Int64 { portal.idleTimeout.components.seconds }

    /// Begins a session for `username` with `role`: a new token (so a new id, whatever the browser
    /// held before) minted by `minter`, recorded with where it began.
    func begin(username: AgentID, role: Role, minter: TokenMinter, client: String, userAgent: String) async throws -> MintedToken {
        let minted = try minter.mint(agent: username, role: role, lifetime: portal.lifetime)
        let claims = minted.claims
        try await store.createSession(
            BrowserSessionRecord(
                id: claims.tokenID, username: username.rawValue, createdAt: claims.issuedAt, lastSeenAt: claims.issuedAt,
                expiresAt: claims.expiresAt, client: client, userAgent: userAgent
            ))
        activity.touch(claims.tokenID, at: claims.issuedAt)
        return minted
    }

    /// The live sessions of `username`, newest first.
    public func sessions(of username: String) async throws -> [BrowserSessionRecord] {
        let now = clock.now()
        return try await store.sessions(of: username, now: now).map { record in
            // What this server saw since its last report is newer than the store's.
            let seen = max(record.lastSeenAt, activity.lastSeen(record.id) ?? .min)
            return BrowserSessionRecord(
                id: record.id, username: record.username, createdAt: record.createdAt, lastSeenAt: seen, expiresAt: record.expiresAt,
                client: record.client, userAgent: record.userAgent, endedAt: record.endedAt
            )
        }
    }

    /// The session `id`, if the store still keeps it.
    public func session(_ id: TokenID) async throws -> BrowserSessionRecord? {
        try await store.session(id: id)
    }

    /// Ends the session `id` (which expires at `expiresAt`) on every server; whether it was live.
    @discardableResult
    public func end(_ id: TokenID, expiresAt: Int64) async throws -> Bool {
        let now = clock.now()
        let ended = try await store.endSession(id: id, at: now)
        try await revoke([(id, expiresAt)], now: now)
        return ended
    }

    /// Ends every live session of `username` on every server; how many.
    @discardableResult
    public func endAll(of username: String) async throws -> Int {
        let now = clock.now()
        let ended = try await store.endSessions(of: username, at: now)
        try await revoke(ended, now: now)
        return ended.count
    }

    private func revoke(_ sessions: [(id: TokenID, expiresAt: Int64)], now: Int64) async throws {
        for (id, expiresAt) in sessions {
            // Here at once; everywhere else through the store's announcement.
            revocations.revoke(tokenID: id, expiresAt: expiresAt)
            activity.forget(id)
            try await revocationStore?.recordRevocation(tokenID: id, expiresAt: expiresAt, at: now)
        }
    }

    /// Hands the store what this server saw and takes in what every server saw, so the idle
    /// timeout holds across servers. On failure what was seen is kept for the next try.
    public func sync() async throws {
        let now = clock.now()
        let seen = activity.takeSeen()
        do {
            try await store.recordActivity(seen)
        } catch {
            activity.putBack(seen)
            throw error
        }
        let forgetBefore = now - idleTimeout
        activity.merge(try await store.sessionActivity(since: forgetBefore, now: now), forgetBefore: forgetBefore)
    }

    /// Forgets sessions that ended or expired more than a day ago; how many.
    func prune() async throws -> Int {
        try await store.pruneSessions(before: clock.now() - 86_400)
    }
}
