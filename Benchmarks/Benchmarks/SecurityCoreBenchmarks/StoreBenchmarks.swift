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
