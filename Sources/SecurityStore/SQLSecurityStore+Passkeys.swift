import Foundation
public import SecurityCore
import SQLKit

// MARK: Passkeys

extension SQLSecurityStore: PasskeyStore {
    public func passkey(id: String) async throws -> PasskeyRecord? {
        try await run {
            try await database.raw(
                """
                SELECT id, username, name, public_key, algorithm, sign_count, created_at, last_used_at FROM passkeys
                WHERE id = \(bind: id)
                """
            ).first().map(Self.passkeyRecord)
        }
    }

    public func passkeys(of username: String) async throws -> [PasskeyRecord] {
        try await run {
            try await database.raw(
                """
                SELECT id, username, name, public_key, algorithm, sign_count, created_at, last_used_at FROM passkeys
                WHERE username = \(bind: username) ORDER BY created_at, id
                """
            ).all().map(Self.passkeyRecord)
        }
    }

    public func addPasskey(_ record: PasskeyRecord) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                INSERT INTO passkeys (id, username, name, public_key, algorithm, sign_count, created_at, last_used_at)
                VALUES (\(bind: record.id), \(bind: record.username), \(bind: record.name), \(bind: Data(record.publicKey)),
                        \(bind: record.algorithm), \(bind: Int64(record.signCount)), \(bind: record.createdAt), \(bind: record.lastUsedAt))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """
            ).all().isEmpty
        }
    }

    public func renamePasskey(id: String, of username: String, to name: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                "UPDATE passkeys SET name = \(bind: name) WHERE id = \(bind: id) AND username = \(bind: username) RETURNING id"
            ).all().isEmpty
        }
    }

    public func removePasskey(id: String, of username: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                "DELETE FROM passkeys WHERE id = \(bind: id) AND username = \(bind: username) RETURNING id"
            ).all().isEmpty
        }
    }

    public func recordPasskeyUse(id: String, signCount: UInt32, at now: Int64) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                UPDATE passkeys SET sign_count = \(bind: Int64(signCount)), last_used_at = \(bind: now)
                WHERE id = \(bind: id) AND (sign_count < \(bind: Int64(signCount)) OR (sign_count = 0 AND \(bind: Int64(signCount)) = 0))
                RETURNING id
                """
            ).all().isEmpty
        }
    }

    static func passkeyRecord(_ row: any SQLRow) throws -> PasskeyRecord {
        PasskeyRecord(
            id: try row.decode(column: "id", as: String.self), username: try row.decode(column: "username", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            publicKey: Array(try row.decode(column: "public_key", as: Data.self)),
            algorithm: try row.decode(column: "algorithm", as: Int64.self),
            signCount: UInt32(clamping: try row.decode(column: "sign_count", as: Int64.self)),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            lastUsedAt: try row.decode(column: "last_used_at", as: Int64?.self))
    }
}
