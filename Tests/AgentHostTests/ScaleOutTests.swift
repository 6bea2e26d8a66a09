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

    static func servers(
        _ count: Int, url: String, scopes: [RateLimitScope] = [scope], liveWithin: Duration = .seconds(2)
    ) async throws -> [Server] {
        var servers = [Server]()
        for _ in 0..<count {
            let store = try await SQLSecurityStore.open(url: url)
            let buckets = InMemoryRateLimitStore(sharesBudgets: true)
            servers.append(
                Server(
                    store: store, buckets: buckets, limiter: RateLimiter(scopes: scopes, store: buckets),
                    sync: RateLimitSyncService(
                        buckets: buckets, store: store, metrics: AgentHostMetrics(), logger: InMemoryLogHandler().logger,
                        liveWithin: liveWithin)
                ))
        }
        // Twice, so each has seen all the others.
        for _ in 0..<2 { for server in servers { #expect(await server.sync.reconcileOnce()) } }
        for server in servers { #expect(server.buckets.sharing == (count, true)) }
        return servers
    }

    /// Each server's reconciler every 100 ms until `body` returns.
    static func reconciling<Result: Sendable>(_ servers: [Server], _ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers {
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(100))
                        await server.sync.reconcileOnce()
                    }
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// A client spread round-robin over three servers at three times the limit for two whole
    /// periods: the requests admitted, and those one server alone admits for the same arrivals.
    @Test(.enabled(if: Backend.postgresEnabled, "needs PostgreSQL: run through scripts/with-postgres"))
    func threeServersKeepOneLimitWithinFivePercent() async throws {
        let url = try await Backend.postgres.freshURL()
        let servers = try await Self.servers(3, url: url)
        let alone = RateLimiter(scopes: [Self.scope], store: InMemoryRateLimitStore())
        let ticks = SystemTickSource()
        let clock = ContinuousClock()
        let gap = Duration.nanoseconds(20_000_000 / 3)  // three times the limit: its interval is 20 ms
        let (shared, single) = try await Self.reconciling(servers) {
            var shared = 0, single = 0
            let start = clock.now
            var next = start
            var index = 0
            while start.duration(to: next) < .seconds(4) {
                try await clock.sleep(until: next)
                let now = ticks.nanoseconds()
                let server = servers[index % 3]
                if server.limiter.admit(method: "GET", path: "/x", client: "10.0.0.1", principal: nil).allowed { shared += 1 }
                if alone.store.acquire(BucketRequest(scope: Self.scope, key: "10.0.0.1"), mode: .ifAllAllowed, now: now).allowed {
                    single += 1
                }
                index += 1
                next += gap
            }
            return (shared, single)
        }
        print("scale-out: 3 servers, 3x the limit for two periods: \(shared) admitted, one server alone \(single)")
        // 300 when the requests keep to time; fewer when a busy machine delays them (both counts see the same arrivals).
        #expect(single >= 200)
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
        // A slow scope (one request back every 10 s), so the seconds the outage takes refill nothing.
        let slow = RateLimitScope(
            checked: "general", limit: 100, period: .seconds(1000), burst: 100, key: .client, counts: .requests, routes: [])
        // The outage may take seconds on a loaded machine: the servers stay counted alive through it.
        let servers = try await Self.servers(2, url: url, scopes: [slow], liveWithin: .seconds(60))
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
