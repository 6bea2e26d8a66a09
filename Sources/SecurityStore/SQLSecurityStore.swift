import Foundation
public import Logging
public import SecurityCore
import PostgresKit
import SQLKit
import SQLiteKit

/// SecurityCore's state in a SQL database: SQLite by default (a file in the data directory).
///
/// Opening runs the versioned migrations the database has not seen yet, each in a transaction, and
/// records them in `schema_migrations`. The store holds sealed bytes only; it never sees a key or a
/// plaintext secret.
///
/// ```swift
/// let store = try await SQLSecurityStore.openSQLite(path: dataDirectory + "/agenthost.sqlite")
/// try await store.put(row)
/// try await store.close()
/// ```
public final class SQLSecurityStore: VaultRecordStore {
    /// Which SQL the database speaks.
    public enum Dialect: String, Sendable {
        case sqlite
        case postgres
    }

    /// The connection's SQL; read it inside ``run(_:)`` only.
    var database: any SQLDatabase { link.database }
    /// The dialect in use.
    public let dialect: Dialect
    private let link: StoreLink
    /// How to connect to PostgreSQL again (a listener's own connection); `nil` for SQLite.
    let postgres: PostgresLink?
    /// One operation at a time: the store talks to its database over one connection, so a
    /// transaction (`BEGIN` ... `COMMIT`) must not let another task's statement run in between.
    private let gate = AsyncSemaphore(permits: 1)

    init(link: StoreLink, dialect: Dialect, postgres: PostgresLink? = nil) {
        self.link = link
        self.dialect = dialect
        self.postgres = postgres
    }

    /// Opens the database `url` names and migrates it: `postgres://user:password@host:port/database`
    /// (or `postgresql://`) for PostgreSQL, `sqlite:PATH` for a SQLite file. Errors never repeat
    /// the URL, which may hold a password.
    public static func open(url: String, logger: Logger = Logger(label: "agenthost.store")) async throws -> SQLSecurityStore {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await openPostgres(url: url, logger: logger)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }  // sqlite:///abs/path
            guard !path.isEmpty else {
                throw StoreError(.unavailable, "sqlite: needs a path, such as sqlite:/var/lib/agenthost/agenthost.sqlite")
            }
            return try await openSQLite(path: path, logger: logger)
        }
        throw StoreError(.unavailable, "the database URL must start with postgres://, postgresql:// or sqlite:")
    }

    /// Opens (creating it when missing, with mode 0600) the SQLite database at `path` and migrates it.
    public static func openSQLite(path: String, logger: Logger = Logger(label: "agenthost.store")) async throws -> SQLSecurityStore {
        let existed = FileManager.default.fileExists(atPath: path)
        if !existed {
            // Create it private first: SQLite would create it with the process umask.
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError(.unavailable, "cannot create the database file \(path)")
            }
        }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw StoreError(.unavailable, "cannot open the SQLite database \(path)")
        }
        let store = SQLSecurityStore(link: StoreLink(.sqlite(connection)), dialect: .sqlite)
        do {
            try await store.database.raw("PRAGMA busy_timeout = 5000").run()
            try await store.database.raw("PRAGMA journal_mode = WAL").run()
            try await store.database.raw("PRAGMA foreign_keys = ON").run()
            try await store.migrate()
        } catch {
            try? await connection.close()
            throw error
        }
        return store
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:password@host:port/database`) and
    /// migrates the database. Errors never repeat the URL, which may hold a password.
    public static func openPostgres(url: String, logger: Logger = Logger(label: "agenthost.store")) async throws -> SQLSecurityStore {
        try await openPostgres(url: url, logger: logger, migrating: true)
    }

    static func openPostgres(url: String, logger: Logger, migrating: Bool) async throws -> SQLSecurityStore {
        let postgres = try PostgresLink(url: url, logger: logger)
        let connection = try await postgres.connect()
        let store = SQLSecurityStore(link: StoreLink(.postgres(connection), reconnect: postgres), dialect: .postgres, postgres: postgres)
        do {
            if migrating { try await store.migrate() }
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    /// Opens an in-memory SQLite database (tests and benchmarks).
    public static func openInMemory() async throws -> SQLSecurityStore {
        let connection = try await SQLiteConnection.open(storage: .memory)
        let store = SQLSecurityStore(link: StoreLink(.sqlite(connection)), dialect: .sqlite)
        try await store.migrate()
        return store
    }

    /// Closes the connection.
    public func close() async throws {
        try await link.close()
    }

    // MARK: Migrations

    /// The schema versions this build knows, in order.
    static func migrations(for dialect: Dialect) -> [(version: Int, statements: [String])] {
        let bytes = dialect == .postgres ? "BYTEA" : "BLOB"
        return [
            (
                1,
                [
                    """
                    CREATE TABLE vault_records (
                        id TEXT PRIMARY KEY,
                        owner TEXT NOT NULL,
                        name TEXT NOT NULL,
                        key_version BIGINT NOT NULL,
                        sealed \(bytes) NOT NULL,
                        updated_at BIGINT NOT NULL,
                        UNIQUE (owner, name)
                    )
                    """,
                    "CREATE INDEX vault_records_key_version ON vault_records (key_version)",
                ]
            ),
            (
                2,
                [
                    "CREATE TABLE vault_key_usage (version BIGINT PRIMARY KEY, encryptions BIGINT NOT NULL)",
                    """
                    CREATE TABLE secret_grants (
                        agent TEXT NOT NULL,
                        env TEXT NOT NULL,
                        owner TEXT NOT NULL,
                        name TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        PRIMARY KEY (agent, env)
                    )
                    """,
                ]
            ),
            (
                3,
                [
                    "CREATE TABLE token_revocations (token_id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL)",
                    "CREATE TABLE agent_revocations (agent TEXT PRIMARY KEY, issued_before BIGINT NOT NULL, revoked_at BIGINT NOT NULL)",
                ]
            ),
            (
                4,
                [
                    """
                    CREATE TABLE users (
                        username TEXT PRIMARY KEY,
                        role TEXT NOT NULL,
                        password_hash TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        sessions_not_before BIGINT NOT NULL
                    )
                    """,
                    """
                    CREATE TABLE access_keys (
                        id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        trust BIGINT,
                        digest \(bytes) NOT NULL,
                        created_by TEXT NOT NULL,
                        created_at BIGINT NOT NULL
                    )
                    """,
                ]
            ),
            (
                5,
                [
                    """
                    CREATE TABLE audit_log (
                        sequence BIGINT PRIMARY KEY,
                        time BIGINT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        target TEXT NOT NULL,
                        decision TEXT NOT NULL,
                        rule TEXT NOT NULL,
                        request_id TEXT NOT NULL,
                        client TEXT NOT NULL,
                        details TEXT NOT NULL,
                        mac \(bytes) NOT NULL
                    )
                    """,
                    "CREATE INDEX audit_log_time ON audit_log (time)",
                    """
                    CREATE TABLE audit_checkpoints (
                        sequence BIGINT PRIMARY KEY,
                        head_mac \(bytes) NOT NULL,
                        time BIGINT NOT NULL,
                        mac \(bytes) NOT NULL
                    )
                    """,
                ]
            ),
            (
                6,
                [
                    """
                    CREATE TABLE webhook_deliveries (
                        sequence \(dialect == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"),
                        provider TEXT NOT NULL,
                        delivery_id TEXT NOT NULL,
                        event TEXT NOT NULL,
                        body TEXT NOT NULL,
                        received_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL,
                        UNIQUE (provider, delivery_id)
                    )
                    """,
                    "CREATE INDEX webhook_deliveries_expiry ON webhook_deliveries (expires_at)",
                ]
            ),
            // Grants made before brokered credentials stay releasable, as they were.
            (7, ["ALTER TABLE secret_grants ADD COLUMN proxy_only BIGINT NOT NULL DEFAULT 0"]),
            // Shared rate-limit budgets (PostgreSQL). Unlogged: a crash loses only spends, which
            // refills buckets, and no write of the request path's reconciliation waits for the WAL.
            (
                8,
                [
                    "CREATE \(dialect == .postgres ? "UNLOGGED " : "")TABLE rate_limit_buckets (bucket TEXT PRIMARY KEY, tat BIGINT NOT NULL, spent_at BIGINT NOT NULL)",
                    "CREATE \(dialect == .postgres ? "UNLOGGED " : "")TABLE rate_limit_servers (server TEXT PRIMARY KEY, seen_at BIGINT NOT NULL)",
                ]
            ),
            // Browser sessions (the portal). The cookie is not stored: it proves itself.
            (
                9,
                [
                    """
                    CREATE TABLE browser_sessions (
                        id TEXT PRIMARY KEY,
                        username TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        last_seen_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL,
                        client TEXT NOT NULL,
                        user_agent TEXT NOT NULL,
                        ended_at BIGINT
                    )
                    """,
                    "CREATE INDEX browser_sessions_user ON browser_sessions (username)",
                ]
            ),
            // Second factors (TOTP): the secret is sealed in vault_records, never here.
            (
                10,
                [
                    """
                    CREATE TABLE second_factors (
                        username TEXT PRIMARY KEY,
                        required BIGINT NOT NULL,
                        enabled_at BIGINT,
                        last_step BIGINT NOT NULL,
                        recovery TEXT NOT NULL
                    )
                    """
                ]
            ),
            // Runs of `agenthost run`. The lease is not stored: it proves itself.
            (
                11,
                [
                    """
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY,
                        agent TEXT NOT NULL,
                        role TEXT NOT NULL,
                        team TEXT NOT NULL,
                        command TEXT NOT NULL,
                        started_by TEXT NOT NULL,
                        upstreams TEXT NOT NULL,
                        allowed_hosts TEXT NOT NULL,
                        sandbox TEXT NOT NULL,
                        parent TEXT,
                        started_at BIGINT NOT NULL,
                        renewed_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL,
                        ended_at BIGINT,
                        exit_status BIGINT
                    )
                    """,
                    "CREATE INDEX runs_started ON runs (started_at)",
                ]
            ),
            // Who signs in as whom through single sign-on: a provider's subject to a local user.
            (
                12,
                [
                    """
                    CREATE TABLE identity_links (
                        provider TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        username TEXT NOT NULL,
                        email TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        PRIMARY KEY (provider, subject)
                    )
                    """,
                    "CREATE INDEX identity_links_username ON identity_links (username)",
                ]
            ),
            // Passkeys: public keys and counters only; nothing here signs anyone in by itself.
            (
                13,
                [
                    """
                    CREATE TABLE passkeys (
                        id TEXT PRIMARY KEY,
                        username TEXT NOT NULL,
                        name TEXT NOT NULL,
                        public_key \(bytes) NOT NULL,
                        algorithm BIGINT NOT NULL,
                        sign_count BIGINT NOT NULL,
                        created_at BIGINT NOT NULL,
                        last_used_at BIGINT
                    )
                    """,
                    "CREATE INDEX passkeys_username ON passkeys (username)",
                ]
            ),
        ]
    }

    /// The highest schema version applied.
    public func schemaVersion() async throws -> Int {
        try await run { try await appliedSchemaVersion() }
    }

    private func appliedSchemaVersion() async throws -> Int {
        // MAX over no rows is one row holding NULL: no migration yet.
        guard let row = try await database.raw("SELECT MAX(version) AS version FROM schema_migrations").first(),
            try !row.decodeNil(column: "version")
        else { return 0 }
        return try row.decode(column: "version", as: Int.self)
    }

    /// Several servers may start at once against one PostgreSQL database: they take turns, under
    /// an advisory lock, so each migration runs exactly once.
    static let migrationLock: Int64 = 0x4147_4854_5354  // "AGHTST"

    func migrate() async throws {
        // No time limit: a migration may wait for another server's, and take long on a big table.
        try await run(within: nil) {
            if dialect == .postgres {
                try await database.raw("SELECT pg_advisory_lock(\(bind: Self.migrationLock))").run()
            }
            do {
                try await migrateHoldingLock()
            } catch {
                if dialect == .postgres {
                    _ = try? await database.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLock))").run()
                }
                throw error
            }
            if dialect == .postgres {
                try await database.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLock))").run()
            }
        }
    }

    private func migrateHoldingLock() async throws {
        try await database.raw(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        ).run()
        let applied = try await appliedSchemaVersion()
        let known = Self.migrations(for: dialect)
        if let newest = known.last?.version, applied > newest {
            throw StoreError(
                .incompatible,
                "the database is at schema version \(applied), newer than this agenthost knows (\(newest)); upgrade agenthost"
            )
        }
        for migration in known where migration.version > applied {
            try await inTransaction {
                // Another process may have applied it while this one waited for the lock.
                guard try await appliedSchemaVersion() < migration.version else { return }
                for statement in migration.statements { try await database.raw(SQLQueryString(statement)).run() }
                let now = Int64(Date().timeIntervalSince1970)
                try await database.raw(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: migration.version), \(bind: now))"
                ).run()
            }
        }
    }

    /// Runs `body` in a transaction; call it inside ``run(_:)``. On SQLite the write lock is taken
    /// at once, so a second process opening the same file waits (busy timeout) rather than failing
    /// halfway.
    func inTransaction<Result>(_ body: () async throws -> Result) async throws -> Result {
        try await database.raw(dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN").run()
        do {
            let result = try await body()
            try await database.raw("COMMIT").run()
            return result
        } catch {
            try? await database.raw("ROLLBACK").run()
            throw error
        }
    }

    // MARK: Vault records

    public func put(_ row: VaultRecordRow) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO vault_records (id, owner, name, key_version, sealed, updated_at)
                VALUES (\(bind: row.id), \(bind: row.owner), \(bind: row.name), \(bind: Int64(row.sealed.keyVersion)),
                        \(bind: Data(row.sealed.bytes)), \(bind: row.updatedAt))
                ON CONFLICT (owner, name) DO UPDATE SET
                    id = excluded.id, key_version = excluded.key_version, sealed = excluded.sealed,
                    updated_at = excluded.updated_at
                """
            ).run()
        }
    }

    public func insert(_ row: VaultRecordRow) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                INSERT INTO vault_records (id, owner, name, key_version, sealed, updated_at)
                VALUES (\(bind: row.id), \(bind: row.owner), \(bind: row.name), \(bind: Int64(row.sealed.keyVersion)),
                        \(bind: Data(row.sealed.bytes)), \(bind: row.updatedAt))
                ON CONFLICT (owner, name) DO NOTHING RETURNING id
                """
            ).all().isEmpty
        }
    }

    public func record(owner: String, name: String) async throws -> VaultRecordRow? {
        try await run {
            try await database.raw(
                """
                SELECT id, owner, name, sealed, updated_at FROM vault_records WHERE owner = \(bind: owner) AND name = \(bind: name)
                """
            ).first().map(Self.vaultRow)
        }
    }

    public func delete(owner: String, name: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                DELETE FROM vault_records WHERE owner = \(bind: owner) AND name = \(bind: name) RETURNING id
                """
            ).all().isEmpty
        }
    }

    public func records(owner: String?) async throws -> [VaultRecordRow] {
        try await run {
            let rows: [any SQLRow]
            if let owner {
                rows = try await database.raw(
                    """
                    SELECT id, owner, name, sealed, updated_at FROM vault_records WHERE owner = \(bind: owner) ORDER BY owner, name
                    """
                ).all()
            } else {
                rows = try await database.raw(
                    "SELECT id, owner, name, sealed, updated_at FROM vault_records ORDER BY owner, name"
                ).all()
            }
            return try rows.map(Self.vaultRow)
        }
    }

    public func records(after id: String?, limit: Int) async throws -> [VaultRecordScan] {
        try await run {
            try await database.raw(
                """
                SELECT id, owner, name, sealed, updated_at FROM vault_records
                WHERE id > \(bind: id ?? "") ORDER BY id LIMIT \(bind: max(1, limit))
                """
            ).all().map { row in
                do {
                    return .record(try Self.vaultRow(row))
                } catch let error as StoreError where error.code == .corrupt {
                    return .malformed(
                        id: try row.decode(column: "id", as: String.self), owner: try row.decode(column: "owner", as: String.self),
                        name: try row.decode(column: "name", as: String.self)
                    )
                }
            }
        }
    }

    public func replace(id: String, expected: SealedRecord, with sealed: SealedRecord, now: Int64) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                UPDATE vault_records SET sealed = \(bind: Data(sealed.bytes)), key_version = \(bind: Int64(sealed.keyVersion)),
                    updated_at = \(bind: now)
                WHERE id = \(bind: id) AND sealed = \(bind: Data(expected.bytes)) RETURNING id
                """
            ).all().isEmpty
        }
    }

    public func replace(_ batch: [VaultReplacement], now: Int64) async throws -> Int {
        guard !batch.isEmpty else { return 0 }
        return try await run {
            try await inTransaction {
                var applied = 0
                for change in batch {
                    let rows = try await database.raw(
                        """
                        UPDATE vault_records SET sealed = \(bind: Data(change.sealed.bytes)),
                            key_version = \(bind: Int64(change.sealed.keyVersion)), updated_at = \(bind: now)
                        WHERE id = \(bind: change.id) AND sealed = \(bind: Data(change.expected.bytes)) RETURNING id
                        """
                    ).all()
                    applied += rows.count
                }
                return applied
            }
        }
    }

    public func recordCountsByKeyVersion() async throws -> [UInt32: Int] {
        try await run {
            var counts: [UInt32: Int] = [:]
            for row in try await database.raw(
                "SELECT key_version, COUNT(*) AS records FROM vault_records GROUP BY key_version"
            ).all() {
                counts[UInt32(clamping: try row.decode(column: "key_version", as: Int64.self))] =
                    try row.decode(column: "records", as: Int.self)
            }
            return counts
        }
    }

    public func encryptionCounts() async throws -> [UInt32: UInt64] {
        try await run {
            var counts: [UInt32: UInt64] = [:]
            for row in try await database.raw("SELECT version, encryptions FROM vault_key_usage").all() {
                counts[UInt32(clamping: try row.decode(column: "version", as: Int64.self))] =
                    UInt64(clamping: try row.decode(column: "encryptions", as: Int64.self))
            }
            return counts
        }
    }

    public func recordEncryptions(version: UInt32, count: UInt64) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO vault_key_usage (version, encryptions) VALUES (\(bind: Int64(version)), \(bind: Int64(clamping: count)))
                ON CONFLICT (version) DO UPDATE SET encryptions = vault_key_usage.encryptions + excluded.encryptions
                """
            ).run()
        }
    }

    static func vaultRow(_ row: any SQLRow) throws -> VaultRecordRow {
        let bytes = try row.decode(column: "sealed", as: Data.self)
        let sealed: SealedRecord
        do {
            sealed = try SealedRecord(bytes: [UInt8](bytes))
        } catch {
            throw StoreError(.corrupt, "a stored vault record is not a sealed record")
        }
        return VaultRecordRow(
            id: try row.decode(column: "id", as: String.self), owner: try row.decode(column: "owner", as: String.self),
            name: try row.decode(column: "name", as: String.self), sealed: sealed,
            updatedAt: try row.decode(column: "updated_at", as: Int64.self)
        )
    }

    /// How long one operation may take before its connection is given up: a PostgreSQL server
    /// that vanishes in the middle of a query must not hold the store's one connection for ever.
    static let operationTimeout = Duration.seconds(10)

    /// Runs `body` when every earlier operation has finished, turning driver errors into
    /// ``StoreError`` so no SQL text or bound value reaches a caller's message. An operation still
    /// running after `within` has its connection closed, which fails it; the next operation
    /// connects again.
    func run<Result>(within limit: Duration? = operationTimeout, _ body: () async throws -> Result) async throws -> Result {
        try await gate.withPermit {
            do {
                try await link.reconnectIfClosed()
                guard let limit, dialect == .postgres else { return try await body() }
                let link = self.link
                let watchdog = Task {
                    try await Task.sleep(for: limit)
                    await link.abandon()
                }
                defer { watchdog.cancel() }
                return try await body()
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError(.unavailable, "the database refused the operation (\(String(describing: type(of: error))))")
            }
        }
    }
}

// MARK: Grants

extension SQLSecurityStore: SecretGrantStore {
    public func putGrant(_ grant: SecretGrant) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO secret_grants (agent, env, owner, name, created_at, proxy_only)
                VALUES (\(bind: grant.agent), \(bind: grant.env), \(bind: grant.owner), \(bind: grant.name), \(bind: grant.createdAt),
                    \(bind: grant.proxyOnly ? 1 : 0))
                ON CONFLICT (agent, env) DO UPDATE SET owner = excluded.owner, name = excluded.name, created_at = excluded.created_at,
                    proxy_only = excluded.proxy_only
                """
            ).run()
        }
    }

    public func grants(agent: String) async throws -> [SecretGrant] {
        try await run {
            try await database.raw(
                """
                SELECT agent, env, owner, name, created_at, proxy_only FROM secret_grants WHERE agent = \(bind: agent) ORDER BY env
                """
            ).all().map(Self.grant)
        }
    }

    public func grant(agent: String, env: String) async throws -> SecretGrant? {
        try await run {
            try await database.raw(
                """
                SELECT agent, env, owner, name, created_at, proxy_only FROM secret_grants WHERE agent = \(bind: agent) AND env = \(bind: env)
                """
            ).first().map(Self.grant)
        }
    }

    private static func grant(_ row: any SQLRow) throws -> SecretGrant {
        SecretGrant(
            agent: try row.decode(column: "agent", as: String.self), env: try row.decode(column: "env", as: String.self),
            owner: try row.decode(column: "owner", as: String.self), name: try row.decode(column: "name", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            proxyOnly: try row.decode(column: "proxy_only", as: Int64.self) != 0
        )
    }

    public func deleteGrant(agent: String, env: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                DELETE FROM secret_grants WHERE agent = \(bind: agent) AND env = \(bind: env) RETURNING agent
                """
            ).all().isEmpty
        }
    }
}

/// A store failure. Its reason never carries SQL, bound values or secret bytes.
public struct StoreError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case unavailable
            case incompatible
            case corrupt
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The database cannot be reached or refused the operation.
        public static let unavailable = Code(.unavailable)
        /// The database's schema is newer than this build.
        public static let incompatible = Code(.incompatible)
        /// Stored data is not what it should be.
        public static let corrupt = Code(.corrupt)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

// MARK: Revocations

extension SQLSecurityStore: RevocationStore {
    public func recordRevocation(tokenID: TokenID, expiresAt: Int64, at now: Int64) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO token_revocations (token_id, expires_at, revoked_at) VALUES (\(bind: tokenID.hex), \(bind: expiresAt), \(bind: now))
                ON CONFLICT (token_id) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > token_revocations.expires_at
                    THEN excluded.expires_at ELSE token_revocations.expires_at END
                """
            ).run()
            try await announceRevocation()
        }
    }

    public func recordRevocation(agent: AgentID, issuedBefore: Int64, at now: Int64) async throws {
        try await run {
            try await database.raw(
                """
                INSERT INTO agent_revocations (agent, issued_before, revoked_at) VALUES (\(bind: agent.rawValue), \(bind: issuedBefore), \(bind: now))
                ON CONFLICT (agent) DO UPDATE SET issued_before = CASE WHEN excluded.issued_before > agent_revocations.issued_before
                    THEN excluded.issued_before ELSE agent_revocations.issued_before END, revoked_at = excluded.revoked_at
                """
            ).run()
            try await announceRevocation()
        }
    }

    public func revocations(now: Int64) async throws -> StoredRevocations {
        try await run {
            var result = StoredRevocations()
            for row in try await database.raw(
                "SELECT token_id, expires_at FROM token_revocations WHERE expires_at >= \(bind: now)"
            ).all() {
                guard let id = TokenID(hex: try row.decode(column: "token_id", as: String.self)) else {
                    throw StoreError(.corrupt, "a stored token revocation has an invalid token id")
                }
                result.tokens.append(.init(id: id, expiresAt: try row.decode(column: "expires_at", as: Int64.self)))
            }
            for row in try await database.raw("SELECT agent, issued_before FROM agent_revocations").all() {
                guard let agent = try? AgentID(try row.decode(column: "agent", as: String.self)) else {
                    throw StoreError(.corrupt, "a stored agent revocation has an invalid agent id")
                }
                result.agents[agent] = try row.decode(column: "issued_before", as: Int64.self)
            }
            return result
        }
    }

    public func pruneRevocations(now: Int64) async throws -> Int {
        try await run {
            try await database.raw("DELETE FROM token_revocations WHERE expires_at < \(bind: now) RETURNING token_id").all().count
        }
    }
}
