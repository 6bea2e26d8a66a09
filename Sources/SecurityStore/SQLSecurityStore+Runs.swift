public import SecurityCore
import SQLKit

// MARK: Runs (`agenthost run`)

extension SQLSecurityStore: RunStore {
    static let runColumns =
        "id, agent, role, team, command, started_by, upstreams, allowed_hosts, sandbox, parent, started_at, renewed_at, expires_at, ended_at, exit_status"

    /// Records `run` and announces it to every server listening (PostgreSQL).
    public func createRun(_ run: RunRecord) async throws {
        try await self.run {
            try await database.raw(
                """
                INSERT INTO runs (\(unsafeRaw: Self.runColumns))
                VALUES (\(bind: run.id.hex), \(bind: run.agent.rawValue), \(bind: run.role.rawValue), \(bind: run.team.rawValue),
                        \(bind: run.command), \(bind: run.startedBy), \(bind: run.upstreams.joined(separator: " ")),
                        \(bind: run.allowedHosts.joined(separator: " ")), \(bind: run.sandbox), \(bind: run.parent?.hex),
                        \(bind: run.startedAt), \(bind: run.renewedAt), \(bind: run.expiresAt), NULL, NULL)
                """
            ).run()
            // Announced as a revocation is, so every server knows the new lease at once.
            try await announceRevocation()
        }
    }

    public func run(id: TokenID) async throws -> RunRecord? {
        try await run {
            try await database.raw("SELECT \(unsafeRaw: Self.runColumns) FROM runs WHERE id = \(bind: id.hex)").first().map(Self.runRecord)
        }
    }

    public func runs(agent: AgentID?, limit: Int) async throws -> [RunRecord] {
        try await run {
            if let agent {
                return try await database.raw(
                    """
                    SELECT \(unsafeRaw: Self.runColumns) FROM runs WHERE agent = \(bind: agent.rawValue)
                    ORDER BY started_at DESC, id LIMIT \(bind: limit)
                    """
                ).all().map(Self.runRecord)
            }
            return try await database.raw(
                "SELECT \(unsafeRaw: Self.runColumns) FROM runs ORDER BY started_at DESC, id LIMIT \(bind: limit)"
            ).all().map(Self.runRecord)
        }
    }

    public func openRuns(now: Int64) async throws -> [RunRecord] {
        try await run {
            try await database.raw(
                "SELECT \(unsafeRaw: Self.runColumns) FROM runs WHERE ended_at IS NULL AND expires_at > \(bind: now)"
            ).all().map(Self.runRecord)
        }
    }

    public func endRun(id: TokenID, at now: Int64, exitStatus: Int?) async throws -> RunRecord? {
        try await run {
            try await inTransaction {
                try await database.raw(
                    """
                    UPDATE runs SET ended_at = \(bind: now), exit_status = \(bind: exitStatus.map { Int64($0) })
                    WHERE id = \(bind: id.hex) AND ended_at IS NULL
                    """
                ).run()
                return try await database.raw("SELECT \(unsafeRaw: Self.runColumns) FROM runs WHERE id = \(bind: id.hex)").first().map(
                    Self.runRecord)
            }
        }
    }

    public func recordRenewals(_ renewedAt: [TokenID: Int64]) async throws {
        try await advance(table: "runs", column: "renewed_at", to: renewedAt)
    }

    static func runRecord(_ row: any SQLRow) throws -> RunRecord {
        func words(_ column: String) throws -> [String] {
            try row.decode(column: column, as: String.self).split(separator: " ").map(String.init)
        }
        guard let id = TokenID(hex: try row.decode(column: "id", as: String.self)),
            let agent = try? AgentID(try row.decode(column: "agent", as: String.self)),
            let role = try? Role(try row.decode(column: "role", as: String.self)),
            let team = try? Team(try row.decode(column: "team", as: String.self))
        else { throw StoreError(.corrupt, "a run has an id or identity that is not valid") }
        let parent = try row.decode(column: "parent", as: String?.self)
        return RunRecord(
            id: id, agent: agent, role: role, team: team, command: try row.decode(column: "command", as: String.self),
            startedBy: try row.decode(column: "started_by", as: String.self), upstreams: try words("upstreams"),
            allowedHosts: try words("allowed_hosts"), sandbox: try row.decode(column: "sandbox", as: String.self),
            parent: parent.flatMap { TokenID(hex: $0) }, startedAt: try row.decode(column: "started_at", as: Int64.self),
            renewedAt: try row.decode(column: "renewed_at", as: Int64.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64.self),
            endedAt: try row.decode(column: "ended_at", as: Int64?.self),
            exitStatus: try row.decode(column: "exit_status", as: Int64?.self).map { Int($0) }
        )
    }
}
