import Foundation
public import SecurityCore
import SQLKit

// MARK: Users

extension SQLSecurityStore: UserStore {
    public func createUser(_ user: UserRecord) async throws -> Bool {
        try await run {
            let created = try await !database.raw(
                """
                INSERT INTO users (username, role, password_hash, created_at, sessions_not_before)
                VALUES (\(bind: user.username), \(bind: user.role), \(bind: user.passwordHash), \(bind: user.createdAt),
                        \(bind: user.sessionsNotBefore))
                ON CONFLICT (username) DO NOTHING RETURNING username
                """
            ).all().isEmpty
            // Every server reads its users again at once: a session begun on one server for a
            // user created a moment ago works on the next server asked.
            if created { try await announceRevocation() }
            return created
        }
    }

    public func user(named username: String) async throws -> UserRecord? {
        try await run {
            try await database.raw(
                """
                SELECT username, role, password_hash, created_at, sessions_not_before FROM users WHERE username = \(bind: username)
                """
            ).first().map(Self.userRecord)
        }
    }

    public func users() async throws -> [UserRecord] {
        try await run {
            try await database.raw(
                "SELECT username, role, password_hash, created_at, sessions_not_before FROM users ORDER BY username"
            ).all().map(Self.userRecord)
        }
    }

    public func replacePasswordHash(username: String, expected: String, with hash: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                UPDATE users SET password_hash = \(bind: hash)
                WHERE username = \(bind: username) AND password_hash = \(bind: expected) RETURNING username
                """
            ).all().isEmpty
        }
    }

    public func setPassword(username: String, hash: String, at now: Int64) async throws -> Bool {
        try await run {
            let changed = try await !database.raw(
                """
                UPDATE users SET password_hash = \(bind: hash), sessions_not_before = \(bind: now)
                WHERE username = \(bind: username) RETURNING username
                """
            ).all().isEmpty
            // The user's sessions end: on every server, now.
            if changed {
                try await endBrowserSessions(of: username, at: now)
                try await announceRevocation()
            }
            return changed
        }
    }

    public func setRole(username: String, role: String, at now: Int64) async throws -> Bool {
        try await run {
            let changed = try await !database.raw(
                """
                UPDATE users SET role = \(bind: role), sessions_not_before = \(bind: now)
                WHERE username = \(bind: username) RETURNING username
                """
            ).all().isEmpty
            // The user's sessions end: the next sign-in begins one with the new role.
            if changed {
                try await endBrowserSessions(of: username, at: now)
                try await announceRevocation()
            }
            return changed
        }
    }

    /// Marks every live browser session of `username` ended (inside ``run(_:)``): its cookie is
    /// refused anyway, by the session's start being before `sessions_not_before`.
    private func endBrowserSessions(of username: String, at now: Int64) async throws {
        try await database.raw(
            "UPDATE browser_sessions SET ended_at = \(bind: now) WHERE username = \(bind: username) AND ended_at IS NULL"
        ).run()
    }

    public func deleteUser(named username: String) async throws -> Bool {
        try await run {
            let deleted = try await !database.raw("DELETE FROM users WHERE username = \(bind: username) RETURNING username").all().isEmpty
            if deleted {
                try await database.raw("DELETE FROM browser_sessions WHERE username = \(bind: username)").run()
                try await database.raw("DELETE FROM second_factors WHERE username = \(bind: username)").run()
                try await database.raw("DELETE FROM identity_links WHERE username = \(bind: username)").run()
                try await database.raw("DELETE FROM passkeys WHERE username = \(bind: username)").run()
                try await announceRevocation()
            }
            return deleted
        }
    }

    static func userRecord(_ row: any SQLRow) throws -> UserRecord {
        UserRecord(
            username: try row.decode(column: "username", as: String.self), role: try row.decode(column: "role", as: String.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            sessionsNotBefore: try row.decode(column: "sessions_not_before", as: Int64.self)
        )
    }
}

// MARK: API keys, devices, setup tokens

extension SQLSecurityStore: AccessKeyStore {
    public func putAccessKey(_ record: AccessKeyRecord) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO access_keys (id, kind, name, role, trust, digest, created_by, created_at)
                VALUES (\(bind: record.id), \(bind: record.kind.rawValue), \(bind: record.name), \(bind: record.role),
                        \(bind: record.trust.map { Int64($0.rawValue) }), \(bind: Data(record.digest)), \(bind: record.createdBy),
                        \(bind: record.createdAt))
                """
            ).run()
        }
    }

    public func accessKeys() async throws -> [AccessKeyRecord] {
        try await run {
            try await database.raw(
                "SELECT id, kind, name, role, trust, digest, created_by, created_at FROM access_keys ORDER BY id"
            ).all().map { row in
                guard let kind = AccessKeyRecord.Kind(rawValue: try row.decode(column: "kind", as: String.self)) else {
                    throw StoreError(.corrupt, "a stored access key has an unknown kind")
                }
                let trust = try row.decode(column: "trust", as: Int64?.self)
                let level = trust.flatMap { DeviceTrust(rawValue: Int($0)) }
                guard (trust == nil) == (level == nil), (level != nil) == (kind == .device) else {
                    throw StoreError(.corrupt, "a stored access key has an invalid trust level")
                }
                return AccessKeyRecord(
                    id: try row.decode(column: "id", as: String.self), kind: kind, name: try row.decode(column: "name", as: String.self),
                    role: try row.decode(column: "role", as: String.self), trust: level,
                    digest: [UInt8](try row.decode(column: "digest", as: Data.self)),
                    createdBy: try row.decode(column: "created_by", as: String.self),
                    createdAt: try row.decode(column: "created_at", as: Int64.self)
                )
            }
        }
    }

    public func deleteAccessKey(id: String) async throws -> Bool {
        try await run {
            let deleted = try await !database.raw("DELETE FROM access_keys WHERE id = \(bind: id) RETURNING id").all().isEmpty
            if deleted { try await announceRevocation() }
            return deleted
        }
    }
}
