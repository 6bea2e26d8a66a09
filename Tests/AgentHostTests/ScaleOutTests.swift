import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import InMemoryLogging
import HummingbirdTesting
import Logging
import PostgresKit
import SecurityCore
import SecurityStore
import StoreTestSupport
import Synchronization
import Testing

@testable import AgentHost

/// Several servers on one PostgreSQL store, in one process: each "server" is its own store
/// connection, rate-limit buckets and reconciler, as `agenthost serve` builds them. Docs/SCALING.md
/// publishes the figures these print.
struct ScaleOutTests {
    static let scope = RateLimitScope(
        checked: "general", limit: 100, period: .seconds(2), burst: 100, key: .client, counts: .requests, routes: [])

    struct Server {
        let store: SQLSecurityStore
        let buckets: InMemoryRateLimitStore
        let limiter: RateLimiter
        let sync: RateLimitSyncService
    }

    /// `count` servers on the store at `url`, all reading `clock`, which stands in for the
    /// database's clock too: the tests step it, so what they count does not depend on how fast a
    /// busy machine runs them.
    static func servers(
        _ count: Int, url: String, scopes: [RateLimitScope] = [scope], liveWithin: Duration = .seconds(2),
        clock: ManualTimeSource = ManualTimeSource(1_000)
    ) async throws -> [Server] {
        var servers = [Server]()
        for _ in 0..<count {
            let store = try await SQLSecurityStore.open(url: url)
            let buckets = InMemoryRateLimitStore(sharesBudgets: true)
            var sync = RateLimitSyncService(
                buckets: buckets, store: store, metrics: AgentHostMetrics(), logger: InMemoryLogHandler().logger,
                liveWithin: liveWithin, ticks: clock)
            sync.databaseClock = clock
            servers.append(
                Server(store: store, buckets: buckets, limiter: RateLimiter(scopes: scopes, store: buckets, ticks: clock), sync: sync))
        }
        // Twice, so each has seen all the others.
        for _ in 0..<2 { for server in servers { #expect(await server.sync.reconcileOnce()) } }
        for server in servers { #expect(server.buckets.sharing == (count, true)) }
        return servers
    }

    /// A client spread round-robin over three servers at three times the limit for two whole
    /// periods: the requests admitted, and those one server alone admits for the same arrivals.
    /// The arrivals and the reconciler's rounds (every 100 ms, as `RateLimitSyncService` runs them)
    /// are steps of one manual clock.
    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func threeServersKeepOneLimitWithinFivePercent() async throws {
        let url = try await Backend.postgres.freshURL()
        let clock = ManualTimeSource(1_000)
        let servers = try await Self.servers(3, url: url, clock: clock)
        let alone = RateLimiter(scopes: [Self.scope], store: InMemoryRateLimitStore(), ticks: clock)
        let gap = Duration.nanoseconds(20_000_000 / 3)  // three times the limit: its interval is 20 ms
        let round = Duration.milliseconds(100)
        var shared = 0, single = 0
        var elapsed = Duration.zero, sinceRound = Duration.zero
        for index in 0..<600 {  // four seconds of arrivals
            let server = servers[index % 3]
            if server.limiter.admit(method: "GET", path: "/x", client: "10.0.0.1", principal: nil).allowed { shared += 1 }
            if alone.admit(method: "GET", path: "/x", client: "10.0.0.1", principal: nil).allowed { single += 1 }
            clock.advance(by: gap)
            elapsed += gap
            sinceRound += gap
            if sinceRound >= round {
                sinceRound -= round
                for server in servers { #expect(await server.sync.reconcileOnce()) }
            }
        }
        print("scale-out: 3 servers, 3x the limit for two periods: \(shared) admitted, one server alone \(single)")
        #expect(elapsed >= .seconds(4) - gap)
        #expect((299...301).contains(single), "\(single)")  // the burst of 100, then 50 a second for four
        #expect(abs(shared - single) * 100 <= single * 5, "shared \(shared), alone \(single)")
        for server in servers { try await server.store.close() }
    }

    /// A burst of three times the bucket, spread over three servers within one reconciliation
    /// interval, is admitted about once.
    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func aBurstSpreadOverThreeServersIsAdmittedOnceWithinTenPercent() async throws {
        let url = try await Backend.postgres.freshURL()
        let servers = try await Self.servers(3, url: url)
        var admitted = 0
        for index in 0..<300 where servers[index % 3].limiter.admit(method: "GET", path: "/x", client: "10.0.0.2", principal: nil).allowed {
            admitted += 1
        }
        print("scale-out: a burst of 300 over 3 servers (burst 100): \(admitted) admitted")
        #expect(abs(admitted - 100) <= 10)
        for server in servers { try await server.store.close() }
    }

    /// `GET /health/ready` follows the store: `503` with the reason while it cannot serve, `200`
    /// once it can; `GET /health` answers `200` throughout.
    @Test func readinessFollowsTheStoreAndLivenessDoesNot() async throws {
        let store = try await SQLSecurityStore.openInMemory()
        let base = try HostFixture()
        let components = try AgentHost.Components(
            configuration: base.configuration, keyring: base.keyring,
            readiness: ReadinessCheck(ticks: base.clock) { try await store.checkReady() })
        let application = AgentHost.application(
            configuration: base.configuration, components: components, logger: InMemoryLogHandler().logger)
        try await application.test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["status"] as? String == "ready")
            }
            try await store.close()
            // The last answer is kept for a second of the server's clock.
            base.clock.advance(by: .milliseconds(999))
            try await client.execute(uri: "/health/ready", method: .get) { response in #expect(response.status == .ok) }
            base.clock.advance(by: .milliseconds(1))
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                let body = try json(response.body)
                #expect(body["code"] as? String == "not_ready")
                #expect((body["detail"] as? String)?.hasPrefix("the database refused the operation") == true, "\(body)")
            }
            try await client.execute(uri: "/health", method: .get) { response in #expect(response.status == .ok) }
        }
    }

    /// A store with pending migrations is not ready; one that is migrated is.
    @Test(arguments: Backend.enabled)
    func aMigratedStoreIsReady(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        try await store.checkReady()
        try await store.close()
        await #expect(throws: StoreError.self) { try await store.checkReady() }
    }

    /// Runs `sql` on the test server's maintenance database.
    static func administer(_ sql: String) async throws {
        let url = try #require(ProcessInfo.processInfo.environment["AGENTHOST_TEST_POSTGRES_URL"])
        let connection = try await PostgresConnection.connect(
            configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, id: 1, logger: Logger(label: "test"))
        do {
            try await connection.sql().raw(SQLQueryString(sql)).run()
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// The database out of reach (it refuses connections, and the servers' are cut): the
    /// reconciler fails without throwing, the server keeps to its share of the limit, and the
    /// spends made meanwhile reach the shared table once the database is back.
    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func anUnreachableStoreDividesTheLimitAndCatchesUpAfter() async throws {
        let url = try await Backend.postgres.freshURL()
        let database = try #require(url.split(separator: "/").last?.split(separator: "?").first.map(String.init))
        // The servers' clock stands still through the outage, however long it takes: nothing refills,
        // and both servers stay counted alive.
        let servers = try await Self.servers(2, url: url)
        let first = servers[0], second = servers[1]
        try await Self.administer("ALTER DATABASE \(database) WITH ALLOW_CONNECTIONS false")
        try await Self.administer(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()")
        #expect(await first.sync.reconcileOnce() == false)
        #expect(first.buckets.sharing == (2, false))
        var admitted = 0
        while first.limiter.admit(method: "GET", path: "/x", client: "10.0.0.3", principal: nil).allowed { admitted += 1 }
        #expect(admitted == 50)  // half of the burst: each request costs two intervals
        #expect(await first.sync.reconcileOnce() == false)  // the spends are kept

        try await Self.administer("ALTER DATABASE \(database) WITH ALLOW_CONNECTIONS true")
        #expect(await first.sync.reconcileOnce())
        #expect(first.buckets.sharing == (2, true))
        // The second server learns of the 50: of the 49 left after its own, it may take its half
        // (without the catch-up, it would take half of 99).
        #expect(second.limiter.admit(method: "GET", path: "/x", client: "10.0.0.3", principal: nil).allowed)
        #expect(await second.sync.reconcileOnce())
        var more = 0
        while second.limiter.admit(method: "GET", path: "/x", client: "10.0.0.3", principal: nil).allowed { more += 1 }
        #expect((23...25).contains(more), "\(more)")
        for server in servers { try await server.store.close() }
    }

    /// A revocation stored through one server is applied by another by LISTEN/NOTIFY: the polling
    /// is not running here, so nothing else could bring it. (How fast: Tests/Cluster/scale_out.py
    /// checks it within a second on three servers, and Docs/SCALING.md has its figures.)
    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func aRevocationReachesAnotherServerByNotice() async throws {
        let url = try await Backend.postgres.freshURL()
        let writer = try await SQLSecurityStore.open(url: url)
        let reader = try await SQLSecurityStore.open(url: url)
        let fixture = try HostFixture(revocationStore: reader, clock: ManualTimeSource(Int64(Date().timeIntervalSince1970)))
        let minted = try fixture.token()
        var listener = RevocationListener(components: fixture.components, store: reader, logger: InMemoryLogHandler().logger)
        let (inPlace, announce) = AsyncStream.makeStream(of: Void.self)
        listener.listening = { announce.yield() }
        let listening = Task { [listener] in await listener.run() }
        defer { listening.cancel() }
        var waiting = inPlace.makeAsyncIterator()
        _ = await waiting.next()  // LISTEN in place
        #expect(!fixture.components.revocations.isRevoked(tokenID: minted.claims.tokenID))

        try await writer.recordRevocation(
            tokenID: minted.claims.tokenID, expiresAt: minted.claims.expiresAt, at: Int64(Date().timeIntervalSince1970))
        try await eventually("the revocation reaches the other server") {
            fixture.components.revocations.isRevoked(tokenID: minted.claims.tokenID)
        }
        listening.cancel()
        _ = await listening.value
        try await writer.close()
        try await reader.close()
    }
}
