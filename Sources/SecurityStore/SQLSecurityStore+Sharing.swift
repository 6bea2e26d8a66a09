import Foundation
import PostgresNIO
package import SecurityCore
import SQLKit

/// What several servers on one PostgreSQL database share beyond the tables: rate-limit budgets,
/// the notice of a revocation, and whether the store can serve.
extension SQLSecurityStore {
    /// What one reconciliation of rate-limit budgets brought back
    /// (`reconcileRateLimits(server:spends:at:liveWithin:)`).
    package struct SharedBudgets: Sendable {
        /// Each spend sent, with how far its bucket's shared arrival time now runs ahead of the
        /// database's clock, in nanoseconds (negative: the bucket is full).
        package var buckets: [(spend: SharedSpend, ahead: Int64)]
        /// The servers that reconciled within the liveness window, this one included.
        package var servers: Int
    }

    /// Adds `spends` to the shared buckets and returns their shared state, in one statement, and
    /// marks `server` alive. `now` is the limiter's clock when the spends were drained: the
    /// database places each spend at its own clock minus the spend's age, so servers' clocks need
    /// not agree. A bucket's shared arrival time moves as GCRA moves it: from the later of the
    /// stored time and the first spend, on by the spends' intervals. Throws ``StoreError`` on
    /// SQLite, which one server alone uses.
    ///
    /// `databaseNow` stands in for the database's clock (`clock_timestamp()`), in nanoseconds: a
    /// test that steps its servers' clocks steps this one with them. Servers leave it `nil`.
    package func reconcileRateLimits(
        server: String, spends: [SharedSpend], at now: Int64, liveWithin: Duration, databaseNow: Int64? = nil
    ) async throws -> SharedBudgets {
        guard dialect == .postgres else {
            throw StoreError(.unavailable, "rate-limit budgets are shared through PostgreSQL only")
        }
        let (seconds, attoseconds) = liveWithin.components
        let window = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let buckets = spends.map(\.bucket)
        let ages = spends.map { max(0, now - $0.since) }
        let costs = spends.map(\.nanoseconds)
        // A reconciliation that does not come back soon is given up: the next one sends its spends.
        // The rows are written in the order of their names (ORDER BY), so two servers' batches
        // lock shared rows in one order and wait for each other instead of deadlocking.
        return try await run(within: .seconds(3)) {
            let rows = try await database.raw(
                """
                WITH clock AS (
                    SELECT COALESCE(\(bind: databaseNow)::BIGINT, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::BIGINT) AS now
                ),
                beat AS (
                    INSERT INTO rate_limit_servers (server, seen_at) SELECT \(bind: server), clock.now FROM clock
                    ON CONFLICT (server) DO UPDATE SET seen_at = excluded.seen_at
                ),
                spent AS (
                    INSERT INTO rate_limit_buckets (bucket, tat, spent_at)
                    SELECT s.bucket, clock.now - s.age + s.cost, clock.now - s.age
                    FROM clock, unnest(\(bind: buckets)::TEXT[], \(bind: ages)::BIGINT[], \(bind: costs)::BIGINT[]) AS s(bucket, age, cost)
                    ORDER BY s.bucket
                    ON CONFLICT (bucket) DO UPDATE SET
                        tat = GREATEST(rate_limit_buckets.tat, excluded.spent_at) + (excluded.tat - excluded.spent_at),
                        spent_at = GREATEST(rate_limit_buckets.spent_at, excluded.spent_at)
                    RETURNING bucket, tat
                )
                SELECT spent.bucket, spent.tat - clock.now AS ahead,
                    (SELECT COUNT(*) FROM rate_limit_servers
                     WHERE seen_at > clock.now - \(bind: window) AND server <> \(bind: server)) + 1 AS servers
                FROM clock LEFT JOIN spent ON TRUE
                """
            ).all()
            var byBucket = [String: Int64]()
            var servers = 1
            for row in rows {
                servers = try row.decode(column: "servers", as: Int.self)
                guard try !row.decodeNil(column: "bucket") else { continue }
                byBucket[try row.decode(column: "bucket", as: String.self)] = try row.decode(column: "ahead", as: Int64.self)
            }
            return SharedBudgets(
                buckets: spends.compactMap { spend in byBucket[spend.bucket].map { (spend, $0) } }, servers: servers)
        }
    }

    /// Deletes shared buckets that are full (a missing bucket means exactly that) and servers
    /// not seen for an hour. Returns the buckets deleted.
    public func pruneRateLimits() async throws -> Int {
        try await pruneRateLimits(databaseNow: nil)
    }

    /// ``pruneRateLimits()`` with `databaseNow` standing in for the database's clock, as in
    /// `reconcileRateLimits(server:spends:at:liveWithin:databaseNow:)`. One statement.
    package func pruneRateLimits(databaseNow: Int64?) async throws -> Int {
        guard dialect == .postgres else { return 0 }
        return try await run {
            try await database.raw(
                """
                WITH clock AS (
                    SELECT COALESCE(\(bind: databaseNow)::BIGINT, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::BIGINT) AS now
                ),
                servers AS (DELETE FROM rate_limit_servers WHERE seen_at < (SELECT now FROM clock) - 3600000000000)
                DELETE FROM rate_limit_buckets WHERE tat < (SELECT now FROM clock) RETURNING bucket
                """
            ).all().count
        }
    }

    // MARK: Revocation notices

    /// The channel a revocation is announced on.
    static let revocationChannel = "agenthost_revocations"

    /// Tells every server listening (``listenForRevocations(onListening:onNotice:)``) that a
    /// revocation was stored.
    /// Runs inside ``run(_:)``; nothing on SQLite.
    func announceRevocation() async throws {
        guard dialect == .postgres else { return }
        try await database.raw("SELECT pg_notify(\(bind: Self.revocationChannel), '')").run()
    }

    /// Listens, over a connection of its own, for revocations stored by any server sharing the
    /// database, and calls `onListening` once listening and `onNotice` after each. Returns when
    /// the task is cancelled; throws ``StoreError`` when the connection cannot be made or drops.
    /// On SQLite it returns at once: one server alone writes there.
    public func listenForRevocations(
        onListening: @Sendable () async -> Void, onNotice: @Sendable () async -> Void
    ) async throws {
        guard let postgres else { return }
        let connection = try await postgres.connect()
        do {
            try await connection.listen(on: Self.revocationChannel) { notices in
                await onListening()
                for try await _ in notices { await onNotice() }
            }
            try? await connection.close()
        } catch {
            try? await connection.close()
            if error is CancellationError || Task.isCancelled { return }
            throw StoreError(.unavailable, "the revocation listener's connection failed (\(String(describing: type(of: error))))")
        }
    }

    // MARK: Readiness

    /// Whether the store can serve requests now: the database answers and every migration this
    /// build knows is applied. Throws ``StoreError`` with the reason when not.
    public func checkReady() async throws {
        let applied = try await schemaVersion()
        let known = Self.migrations(for: dialect).last?.version ?? 0
        if applied < known {
            throw StoreError(.incompatible, "the database is at schema version \(applied); migrations up to \(known) are pending")
        }
    }
}
