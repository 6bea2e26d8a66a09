// The request pipeline's goals (issue 3, this 2-core machine): policy decision with 100 rules
// <= 1 us; rate-limit check with 100,000 tracked keys <= 100 ns, on one thread and on two, at
// <= 32 bytes per key; SecurityPipeline.evaluate (token + limits + policy) <= 2 us.
import Benchmark
import Foundation
import SecurityCore
import Synchronization

/// 100 routes and 100 rules, one per action, the way a platform with many endpoints looks.
func hundredRulePolicy() -> Policy {
    var yaml = "version: 1\nactions:\n"
    for index in 0..<100 { yaml += "  - a\(index)\n" }
    yaml += "routes:\n"
    for index in 0..<100 { yaml += "  - {id: r\(index), method: GET, path: \"/api/r\(index)/{id}\", action: a\(index)}\n" }
    yaml += "rules:\n"
    for index in 0..<90 { yaml += "  - {id: p\(index), effect: permit, actions: [a\(index)], min_role: member}\n" }
    for index in 90..<100 { yaml += "  - {id: f\(index), effect: forbid, actions: [a\(index)], roles: [viewer]}\n" }
    return try! PolicyLoader.load(yaml: yaml, source: "bench")
}

/// `count` distinct client addresses, as the limiter keys them.
func clientAddresses(_ count: Int) -> [String] {
    (0..<count).map { "10.\(($0 >> 16) & 0xFF).\(($0 >> 8) & 0xFF).\($0 & 0xFF)" }
}

/// Runs `body(0)` on this thread and `body(1)` on a new thread, both starting once both are
/// running, and returns when both are done.
func onTwoThreads(_ body: @escaping @Sendable (Int) -> Void) {
    final class Gate: Sendable {
        let arrived = Atomic<Int>(0)
        let finished = Atomic<Bool>(false)

        func arriveAndWait() {
            arrived.add(1, ordering: .sequentiallyConsistent)
            while arrived.load(ordering: .sequentiallyConsistent) < 2 {}
        }
    }
    let gate = Gate()
    Thread {
        gate.arriveAndWait()
        body(1)
        gate.finished.store(true, ordering: .releasing)
    }.start()
    gate.arriveAndWait()
    body(0)
    while !gate.finished.load(ordering: .acquiring) { sched_yield() }
}

func pipelineBenchmarks() {
    // MARK: Policy

    let policy = hundredRulePolicy()
    let member = PolicyRequest(
        principal: PolicyPrincipal(agent: "builder-7", role: "member", team: "core"), method: "GET", path: "/api/r50/x1")
    Benchmark("policy decision, 100 rules (route 50)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(policy.decide(member))
        }
    }

    // MARK: Rate limits

    let keyCount = 100_000
    let clients = clientAddresses(keyCount)
    let scope = try! RateLimitScope(name: "general", limit: 1_000_000, period: .seconds(1), routes: [RouteMatch("/api/**")!])
    let store = InMemoryRateLimitStore()
    let limiter = RateLimiter(scopes: [scope], store: store)
    for client in clients { _ = limiter.admit(method: "GET", path: "/api/x", client: client, principal: nil) }

    Benchmark("rate-limit check, 100k keys, 1 thread (RateLimiter.admit)") { benchmark in
        var index = 0
        for _ in benchmark.scaledIterations {
            blackHole(limiter.admit(method: "GET", path: "/api/x", client: clients[index], principal: nil))
            index = index == keyCount - 1 ? 0 : index + 1
        }
    }
    let buckets = clients.map { BucketRequest(scope: scope, key: $0) }
    Benchmark("rate-limit check, 100k keys, 1 thread (store, one bucket)") { benchmark in
        var index = 0
        var now: Int64 = 0
        for _ in benchmark.scaledIterations {
            now &+= 1
            blackHole(store.acquire(buckets[index], mode: .ifAllAllowed, now: now))
            index = index == keyCount - 1 ? 0 : index + 1
        }
    }
    // Two threads at once; the time per iteration is for one check on each thread. A million
    // checks per thread per sample, and the second thread is a thread of its own that starts on a
    // barrier with this one (with `DispatchQueue.concurrentPerform` some runs measured twice the
    // one-thread time, as if the two halves had run one after the other).
    // Each thread's requests carry a scope value of its own: a `BucketRequest` argument is retained
    // by the caller, and one scope object shared by both threads would measure that reference
    // count moving between the cores rather than the store. The second benchmark keeps the shared
    // scope, to show that cost.
    let twoThreads = Benchmark.Configuration(scalingFactor: .mega, maxDuration: .seconds(3))
    let threadBuckets = (0..<2).map { _ in
        let own = try! RateLimitScope(name: "general", limit: 1_000_000, period: .seconds(1), routes: [RouteMatch("/api/**")!])
        return clients.map { BucketRequest(scope: own, key: $0) }
    }
    Benchmark("rate-limit check, 100k keys, 2 threads (store, one bucket each)", configuration: twoThreads) { benchmark in
        let perThread = benchmark.scaledIterations.count
        onTwoThreads { thread in
            let buckets = threadBuckets[thread]
            var index = thread * (keyCount / 2)
            for step in 0..<perThread {
                blackHole(store.acquire(buckets[index], mode: .ifAllAllowed, now: Int64(step)))
                index = index == keyCount - 1 ? 0 : index + 1
            }
        }
    }
    Benchmark("rate-limit check, 100k keys, 2 threads sharing one scope object", configuration: twoThreads) { benchmark in
        let perThread = benchmark.scaledIterations.count
        onTwoThreads { thread in
            var index = thread * (keyCount / 2)
            for step in 0..<perThread {
                blackHole(store.acquire(buckets[index], mode: .ifAllAllowed, now: Int64(step)))
                index = index == keyCount - 1 ? 0 : index + 1
            }
        }
    }
    Benchmark(
        "rate-limit memory, bytes per tracked key (100k keys)",
        configuration: .init(metrics: [.custom("bytes per key", useScalingFactor: false)], scalingFactor: .one, maxIterations: 1)
    ) { benchmark in
        // A store of its own, filled once: the other benchmarks' traffic does not change it.
        let fresh = InMemoryRateLimitStore()
        for bucket in buckets { _ = fresh.acquire(bucket, mode: .always, now: 0) }
        benchmark.measurement(.custom("bytes per key", useScalingFactor: false), fresh.tableBytes / max(1, fresh.trackedKeys))
    }

    // MARK: The whole pipeline

    let keyBytes = (0..<32).map { UInt8($0) }
    let clock = ManualTimeSource(1_800_000_000)
    let keyring = try! Keyring(keys: [TokenKey(id: KeyID("k-bench"), secret: SecureBytes(copying: keyBytes), status: .primary)])
    let tokenPolicy = try! TokenPolicy()
    let token = try! TokenMinter(keyring: keyring, policy: tokenPolicy, clock: clock)
        .mint(agent: AgentID("builder-7"), role: Role("developer"), team: Team("core")).token
    let pipelinePolicy = try! PolicyLoader.load(
        yaml: """
            version: 1
            roles: {ceo: owner, developer: member}
            actions: [whoami.read, agents.create]
            routes:
              - {id: whoami, method: GET, path: /api/whoami, action: whoami.read}
              - {id: create-agent, method: POST, path: /api/agents, action: agents.create}
            rules:
              - {id: whoami, effect: permit, actions: [whoami.read]}
              - {id: admins-create-agents, effect: permit, actions: [agents.create], min_role: admin}
              - {id: viewers-read-only, effect: forbid, roles: [viewer], methods: [POST, PUT, PATCH, DELETE]}
            """, source: "bench")
    let general = try! RateLimitScope(name: "general", limit: 1_000_000, period: .seconds(1), routes: [RouteMatch("/api/**")!])
    let failures = try! RateLimitScope(name: "auth-failures", limit: 10, period: .seconds(60), counts: .authenticationFailures)
    let pipeline = SecurityPipeline(
        configuration: .init(
            verifier: TokenVerifier(keyring: keyring, policy: tokenPolicy, clock: clock, revocations: InMemoryRevocationList(clock: clock)),
            policy: pipelinePolicy, rateLimiter: RateLimiter(scopes: [general, failures])
        ))
    let facts = RequestFacts(
        method: "GET", path: "/api/whoami",
        headers: [
            HeaderField(name: "Host", value: "127.0.0.1:8080"), HeaderField(name: "User-Agent", value: "bench"),
            HeaderField(name: "Accept", value: "application/json"), HeaderField(name: "Authorization", value: "Bearer " + token),
        ], peerAddress: "192.0.2.10", bodyLength: 0
    )
    guard case .allow = pipeline.evaluate(facts) else { fatalError("the benchmark request must be allowed") }
    Benchmark("SecurityPipeline.evaluate (token + limits + policy)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(pipeline.evaluate(facts))
        }
    }
}

// The vault's goals (issue 4): open of a 64-byte secret <= 250 ns, seal <= 800 ns including the
// nonce.
func vaultBenchmarks() {
    let keyring = try! VaultKeyring(
        keys: [VaultKey(version: 1, secret: SecureBytes(copying: (0..<32).map { UInt8($0) }))], primaryVersion: 1)
    let vault = Vault(keyring: keyring)
    let identity = RecordIdentity(owner: "project:p1", recordID: "r-1", name: "git-token")
    let secret = SecureBytes(copying: [UInt8](repeating: 0x61, count: 64))
    let record = try! vault.seal(secret, for: identity)
    Benchmark("vault seal 64 B") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! vault.seal(secret, for: identity))
        }
    }
    Benchmark("vault open 64 B (lent to a closure)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! vault.withSecret(in: record, for: identity) { $0.count })
        }
    }
}
