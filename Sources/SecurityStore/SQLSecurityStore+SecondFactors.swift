public import SecurityCore
import SQLKit

// MARK: Second factors

extension SQLSecurityStore: SecondFactorStore {
    public func secondFactor(of username: String) async throws -> SecondFactorRecord? {
        try await run {
            try await database.raw(
                "SELECT username, required, enabled_at, last_step, recovery FROM second_factors WHERE username = \(bind: username)"
            ).first().map(Self.secondFactorRecord)
        }
    }

    public func setSecondFactorRequired(_ required: Bool, for username: String) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO second_factors (username, required, enabled_at, last_step, recovery)
                VALUES (\(bind: username), \(bind: required ? 1 : 0), NULL, -1, '')
                ON CONFLICT (username) DO UPDATE SET required = excluded.required
                """
            ).run()
        }
    }

    public func enableSecondFactor(for username: String, step: Int64, recoveryDigests: [String], at now: Int64) async throws -> Bool {
        try await run {
            let recovery = recoveryDigests.joined(separator: ",")
            try await database.raw(
                """
                INSERT INTO second_factors (username, required, enabled_at, last_step, recovery)
                VALUES (\(bind: username), 0, NULL, -1, '') ON CONFLICT (username) DO NOTHING
                """
            ).run()
            return try await !database.raw(
                """
                UPDATE second_factors SET enabled_at = \(bind: now), last_step = \(bind: step), recovery = \(bind: recovery)
                WHERE username = \(bind: username) AND enabled_at IS NULL RETURNING username
                """
            ).all().isEmpty
        }
    }

    public func acceptSecondFactorStep(_ step: Int64, for username: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                UPDATE second_factors SET last_step = \(bind: step)
                WHERE username = \(bind: username) AND enabled_at IS NOT NULL AND last_step < \(bind: step) RETURNING username
                """
            ).all().isEmpty
        }
    }

    public func useRecoveryCode(digest: String, for username: String) async throws -> Bool {
        try await run {
            try await inTransaction {
                guard
                    let row = try await database.raw(
                        "SELECT recovery FROM second_factors WHERE username = \(bind: username) AND enabled_at IS NOT NULL"
                    ).first()
                else { return false }
                var digests = try row.decode(column: "recovery", as: String.self).split(separator: ",").map(String.init)
                guard let index = digests.firstIndex(of: digest) else { return false }
                digests.remove(at: index)
                let expected = try row.decode(column: "recovery", as: String.self)
                // Compared on write too: two servers using one code at once, one wins.
                return try await !database.raw(
                    """
                    UPDATE second_factors SET recovery = \(bind: digests.joined(separator: ","))
                    WHERE username = \(bind: username) AND recovery = \(bind: expected) RETURNING username
                    """
                ).all().isEmpty
            }
        }
    }

    public func removeSecondFactor(for username: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                UPDATE second_factors SET enabled_at = NULL, last_step = -1, recovery = ''
                WHERE username = \(bind: username) AND enabled_at IS NOT NULL RETURNING username
                """
            ).all().isEmpty
        }
    }

    static func secondFactorRecord(_ row: any SQLRow) throws -> SecondFactorRecord {
        let recovery = try row.decode(column: "recovery", as: String.self)
        return SecondFactorRecord(
            username: try row.decode(column: "username", as: String.self),
            required: try row.decode(column: "required", as: Int64.self) != 0,
            enabledAt: try row.decode(column: "enabled_at", as: Int64?.self), lastStep: try row.decode(column: "last_step", as: Int64.self),
            recoveryDigests: recovery.isEmpty ? [] : recovery.split(separator: ",").map(String.init)
        )
    }
}
