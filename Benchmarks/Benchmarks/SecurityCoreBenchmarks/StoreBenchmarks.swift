// Credential store benchmarks (issue 4): put and release through SQLite holding 100,000 records,
// and rotation throughput. These touch the disk, so they run fewer iterations than the rest.
import AgentHost
import Benchmark
import Foundation
import SecurityCore
import SecurityStore

/// A SQLite store in a temporary directory seeded with `count` sealed records (once per run).
private func seededStore(count: Int, keys: VaultKeyring) async throws -> (CredentialService, SQLSecurityStore) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("agenthost-bench-\(UUID().uuidString).sqlite").path
    let store = try await SQLSecurityStore.openSQLite(path: path)
    let credentials = try await CredentialService.open(keys: keys, store: store)
    let secret = SecureBytes(copying: [UInt8](repeating: 0x61, count: 64))
    for index in 0..<count {
        try await credentials.set(try SecretPath("projects/p\(index)/git-token"), secret: secret)
    }
    return (credentials, store)
}

private func key(_ byte: UInt8, version: UInt32) -> VaultKey {
    VaultKey(version: version, secret: SecureBytes(copying: [UInt8](repeating: byte, count: 32)))
}

func storeBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput], scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 20_000
    )
    let keys = try! VaultKeyring(keys: [key(1, version: 1)], primaryVersion: 1)
    let secret = SecureBytes(copying: [UInt8](repeating: 0x62, count: 64))
    nonisolated(unsafe) var seeded: (CredentialService, SQLSecurityStore)?

    Benchmark("store put 64 B (SQLite, 100k records)", configuration: configuration) { benchmark in
        let (credentials, _) = seeded!
        for index in benchmark.scaledIterations {
            try await credentials.set(try SecretPath("projects/p\(index % 100_000)/git-token"), secret: secret)
        }
    } setup: {
        if seeded == nil { seeded = try await seededStore(count: 100_000, keys: keys) }
    }

    Benchmark("store release 1 grant (SQLite, 100k records)", configuration: configuration) { benchmark in
        let (credentials, _) = seeded!
        let agent = try AgentID("builder-7")
        var body: [UInt8] = []
        for _ in benchmark.scaledIterations {
            body.removeAll(keepingCapacity: true)
            blackHole(try await credentials.release(agent: agent, into: &body))
        }
    } setup: {
        if seeded == nil { seeded = try await seededStore(count: 100_000, keys: keys) }
        try await seeded!.0.grant(agent: AgentID("builder-7"), secret: SecretPath("projects/p4242/git-token"), env: "GITHUB_TOKEN")
    }

    // Each iteration re-seals 10,000 records, alternating the primary between two versions so
    // every iteration has the whole store to do. Records per second = 10,000 / wall clock.
    let both = [key(1, version: 1), key(2, version: 2)]
    nonisolated(unsafe) var rotation: (SQLSecurityStore, Int)?
    Benchmark(
        "vault rotate 10,000 records (SQLite, batches of 200)",
        configuration: .init(metrics: [.wallClock], scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 10)
    ) { benchmark in
        var (store, round) = rotation!
        for _ in benchmark.scaledIterations {
            round += 1
            let primary: UInt32 = round % 2 == 0 ? 1 : 2
            let service = try await CredentialService.open(keys: try VaultKeyring(keys: both, primaryVersion: primary), store: store)
            let result = try await service.resealAll(batchSize: 200)
            precondition(result.resealed == 10_000 && result.failures.isEmpty)
        }
        rotation = (store, round)
    } setup: {
        let (_, store) = try await seededStore(count: 10_000, keys: try VaultKeyring(keys: both, primaryVersion: 1))
        rotation = (store, 0)
    }
}

/// AgentHost's pipeline (default policy, a high general limit) with accounts over a SQLite store:
/// the components and one credential of each kind.
private struct AccountBench {
    let components: AgentHost.Components
    let agentToken: String
    let sessionToken: String
    let apiKey: String
    let wrongKey: String

    static func make() async throws -> AccountBench {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agenthost-bench-\(UUID().uuidString).sqlite").path
        let store = try await SQLSecurityStore.openSQLite(path: path)
        let credentials = try await CredentialService.open(
            keys: try VaultKeyring(keys: [key(1, version: 1)], primaryVersion: 1), store: store)
        let accounts = try await AccountService.open(store: store, credentials: credentials, hasher: try PasswordHasher())
        _ = try await accounts.addUser(username: "alice", role: "member", password: "a long bench password")
        let issued = try await accounts.createKey(kind: .apiKey, name: "bench", role: try Role("member"), createdBy: "bench")
        let keyring = try Keyring(keys: [
            TokenKey(id: KeyID("k-bench"), secret: SecureBytes(copying: [UInt8](repeating: 9, count: 32)), status: .primary)
        ])
        let general = try RateLimitScope(name: "general", limit: 1_000_000, period: .seconds(1), routes: [RouteMatch("/api/**")!])
        let configuration = AgentHostConfiguration(tokenPolicy: try TokenPolicy(), rateLimitScopes: [general])
        let components = try AgentHost.Components(
            configuration: configuration, keyring: keyring, credentials: credentials, revocationStore: store, accounts: accounts
        )
        var wrong = Array(issued.credential.utf8)
        wrong[wrong.count - 1] = wrong.last == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        return AccountBench(
            components: components,
            agentToken: try components.minter.mint(agent: AgentID("builder-7"), role: Role("developer"), team: Team("core")).token,
            sessionToken: try components.sessionMinter.mint(agent: AgentID("alice"), role: Role("member")).token,
            apiKey: issued.credential, wrongKey: String(decoding: wrong, as: UTF8.self)
        )
    }

    func facts(_ credential: String) -> RequestFacts {
        RequestFacts(
            method: "GET", path: "/api/whoami",
            headers: [
                HeaderField(name: "Host", value: "127.0.0.1:8080"), HeaderField(name: "User-Agent", value: "bench"),
                HeaderField(name: "Accept", value: "application/json"), HeaderField(name: "Authorization", value: "Bearer " + credential),
            ], peerAddress: "192.0.2.10", bodyLength: 0
        )
    }
}

/// The whole request check in AgentHost for each kind of credential: agent token, user session,
/// API key, and a wrong API key (which must cost no more than a right one).
func accountBenchmarks() {
    nonisolated(unsafe) var bench: AccountBench?
    for (name, pick, allowed) in [
        ("agent token", \AccountBench.agentToken, true), ("user session", \AccountBench.sessionToken, true),
        ("API key", \AccountBench.apiKey, true), ("wrong API key", \AccountBench.wrongKey, false),
    ] as [(String, KeyPath<AccountBench, String>, Bool)] {
        Benchmark("AgentHost pipeline evaluate, \(name) (default policy)") { benchmark in
            let facts = bench!.facts(bench![keyPath: pick])
            let pipeline = bench!.components.pipeline
            for _ in benchmark.scaledIterations {
                blackHole(pipeline.evaluate(facts))
            }
        } setup: {
            if bench == nil { bench = try await AccountBench.make() }
            let outcome = bench!.components.pipeline.evaluate(bench!.facts(bench![keyPath: pick]))
            if case .allow = outcome {
                precondition(allowed, "\(name) must be refused")
            } else {
                precondition(!allowed, "\(name) must be allowed")
            }
        }
    }
}
