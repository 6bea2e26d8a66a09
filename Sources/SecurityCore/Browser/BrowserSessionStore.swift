/// One browser session, as the store keeps it: who, since when, last seen where, and whether it
/// ended. The cookie itself is never stored: it proves itself (a token under the browser
/// audience, Docs/SIGN_IN.md), and this record is what a person sees in "your sessions" and what
/// ending one changes.
public struct BrowserSessionRecord: Hashable, Sendable, CustomStringConvertible {
    /// The session's id: the token id its cookie carries. Not a secret.
    public let id: TokenID
    /// The user signed in.
    public let username: String
    /// When it began, in Unix seconds.
    public let createdAt: Int64
    /// When a request last used it, in Unix seconds, as far as the store knows (servers report
    /// every few seconds).
    public let lastSeenAt: Int64
    /// When it ends whatever happens (the absolute lifetime), in Unix seconds.
    public let expiresAt: Int64
    /// The client address it began from.
    public let client: String
    /// The browser's `User-Agent` when it began, cut to ``maximumUserAgentLength`` characters.
    public let userAgent: String
    /// When it was ended (signed out, ended by its user or an admin), or `nil`.
    public let endedAt: Int64?

    /// The longest `User-Agent` kept.
    public static let maximumUserAgentLength = 256

    public init(
        id: TokenID, username: String, createdAt: Int64, lastSeenAt: Int64, expiresAt: Int64, client: String, userAgent: String,
        endedAt: Int64? = nil
    ) {
        self.id = id
        self.username = username
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.client = client
        self.userAgent = String(userAgent.prefix(Self.maximumUserAgentLength))
        self.endedAt = endedAt
    }

    public var description: String { "BrowserSessionRecord(\(id), \(username))" }
}

/// Where browser sessions live. SecurityStore implements it over SQLite and PostgreSQL; every
/// server sharing the store sees every session.
public protocol BrowserSessionStore: Sendable {
    /// Records a session that just began.
    func createSession(_ session: BrowserSessionRecord) async throws
    /// The session `id`, ended or not, if it is still kept.
    func session(id: TokenID) async throws -> BrowserSessionRecord?
    /// The sessions of `username` that have neither ended nor expired at `now`, newest first.
    func sessions(of username: String, now: Int64) async throws -> [BrowserSessionRecord]
    /// Ends the session `id` at `now`; whether it was live.
    func endSession(id: TokenID, at now: Int64) async throws -> Bool
    /// Ends every live session of `username` at `now`; the ids ended, with their expiries.
    func endSessions(of username: String, at now: Int64) async throws -> [(id: TokenID, expiresAt: Int64)]
    /// Moves each session's last-seen time forward to the time given (never back).
    func recordActivity(_ lastSeen: [TokenID: Int64]) async throws
    /// The last-seen time of every live session seen at or after `since`.
    func sessionActivity(since: Int64, now: Int64) async throws -> [TokenID: Int64]
    /// Forgets sessions that expired or ended before `before`; how many.
    func pruneSessions(before: Int64) async throws -> Int
}
