public import SecurityCore
import SQLKit

// MARK: Browser sessions

extension SQLSecurityStore: BrowserSessionStore {
    static let sessionColumns = "id, username, created_at, last_seen_at, expires_at, client, user_agent, ended_at"

    public func createSession(_ session: BrowserSessionRecord) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO browser_sessions (id, username, created_at, last_seen_at, expires_at, client, user_agent)
                VALUES (\(bind: session.id.hex), \(bind: session.username), \(bind: session.createdAt), \(bind: session.lastSeenAt),
                        \(bind: session.expiresAt), \(bind: session.client), \(bind: session.userAgent))
                """
            ).run()
        }
    }

    public func session(id: TokenID) async throws -> BrowserSessionRecord? {
        try await run {
            try await database.raw(
                "SELECT \(unsafeRaw: Self.sessionColumns) FROM browser_sessions WHERE id = \(bind: id.hex)"
            ).first().map(Self.sessionRecord)
        }
    }

    public func sessions(of username: String, now: Int64) async throws -> [BrowserSessionRecord] {
        try await run {
            try await database.raw(
                """
                SELECT \(unsafeRaw: Self.sessionColumns) FROM browser_sessions
                WHERE username = \(bind: username) AND ended_at IS NULL AND expires_at > \(bind: now)
                ORDER BY created_at DESC, id
                """
            ).all().map(Self.sessionRecord)
        }
    }

    public func endSession(id: TokenID, at now: Int64) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                UPDATE browser_sessions SET ended_at = \(bind: now)
                WHERE id = \(bind: id.hex) AND ended_at IS NULL RETURNING id
                """
            ).all().isEmpty
        }
    }

    public func endSessions(of username: String, at now: Int64) async throws -> [(id: TokenID, expiresAt: Int64)] {
        try await run {
            try await database.raw(
                """
                UPDATE browser_sessions SET ended_at = \(bind: now)
                WHERE username = \(bind: username) AND ended_at IS NULL AND expires_at > \(bind: now) RETURNING id, expires_at
                """
            ).all().compactMap { row in
                guard let id = TokenID(hex: try row.decode(column: "id", as: String.self)) else { return nil }
                return (id, try row.decode(column: "expires_at", as: Int64.self))
            }
        }
    }

    public func recordActivity(_ lastSeen: [TokenID: Int64]) async throws {
        try await advance(table: "browser_sessions", column: "last_seen_at", to: lastSeen)
    }

    /// Moves `column` of each row of `table` (keyed by a token id) forward to the time given,
    /// never back, in one transaction.
    func advance(table: StaticString, column: StaticString, to times: [TokenID: Int64]) async throws {
        guard !times.isEmpty else { return }
        let table = "\(table)", column = "\(column)"
        try await run {
            try await inTransaction {
                for (id, time) in times {
                    try await database.raw(
                        """
                        UPDATE \(unsafeRaw: table) SET \(unsafeRaw: column) = \(bind: time)
                        WHERE id = \(bind: id.hex) AND \(unsafeRaw: column) < \(bind: time)
                        """
                    ).run()
                }
            }
        }
    }

    public func sessionActivity(since: Int64, now: Int64) async throws -> [TokenID: Int64] {
        try await run {
            var activity = [TokenID: Int64]()
            for row in try await database.raw(
                """
                SELECT id, last_seen_at FROM browser_sessions
                WHERE last_seen_at >= \(bind: since) AND ended_at IS NULL AND expires_at > \(bind: now)
                """
            ).all() {
                guard let id = TokenID(hex: try row.decode(column: "id", as: String.self)) else { continue }
                activity[id] = try row.decode(column: "last_seen_at", as: Int64.self)
            }
            return activity
        }
    }

    public func pruneSessions(before: Int64) async throws -> Int {
        try await run {
            try await database.raw(
                """
                DELETE FROM browser_sessions WHERE expires_at < \(bind: before) OR ended_at < \(bind: before) RETURNING id
                """
            ).all().count
        }
    }

    static func sessionRecord(_ row: any SQLRow) throws -> BrowserSessionRecord {
        let hex = try row.decode(column: "id", as: String.self)
        guard let id = TokenID(hex: hex) else { throw StoreError(.corrupt, "a browser session has an id that is not a token id") }
        return BrowserSessionRecord(
            id: id, username: try row.decode(column: "username", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            lastSeenAt: try row.decode(column: "last_seen_at", as: Int64.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64.self), client: try row.decode(column: "client", as: String.self),
            userAgent: try row.decode(column: "user_agent", as: String.self),
            endedAt: try row.decode(column: "ended_at", as: Int64?.self)
        )
    }
}
