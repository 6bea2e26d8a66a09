// SecurityCore microbenchmarks. Goals (issue 2, this 2-core machine): token verify <= 250 ns,
// AES-256-GCM open of 64 B <= 250 ns, 1 MiB seal+open >= 1.9 GB/s. swift-crypto is the anchor.
// The request pipeline's goals (issue 3) are in PipelineBenchmarks.swift; the store's (issue 4) in StoreBenchmarks.swift.
import Benchmark
import Crypto
import SecurityCore

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    let keyBytes = (0..<32).map { UInt8($0) }
    let message48 = [UInt8](repeating: 0x61, count: 48)

    // MARK: HMAC-SHA256

    let hmacKey = HMACSHA256Key(SecureBytes(copying: keyBytes))
    Benchmark("HMAC-SHA256 48 B (prepared key)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(hmacKey.authenticationCode(for: message48))
        }
    }
    let anchorKey = SymmetricKey(data: keyBytes)
    Benchmark("anchor: swift-crypto HMAC<SHA256> 48 B") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(HMAC<SHA256>.authenticationCode(for: message48, using: anchorKey))
        }
    }

    // MARK: Constant-time compare

    let left = [UInt8](repeating: 7, count: 32)
    let right = [UInt8](repeating: 7, count: 32)
    Benchmark("ConstantTime.equals 32 B") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(ConstantTime.equals(left, right))
        }
    }

    // MARK: Tokens

    let clock = ManualTimeSource(1_800_000_000)
    let keyring = try! Keyring(keys: [TokenKey(id: KeyID("k-bench"), secret: SecureBytes(copying: keyBytes), status: .primary)])
    let policy = try! TokenPolicy()
    let minter = TokenMinter(keyring: keyring, policy: policy, clock: clock)
    let verifier = TokenVerifier(keyring: keyring, policy: policy, clock: clock, revocations: InMemoryRevocationList(clock: clock))
    let agent = try! AgentID("builder-7")
    let role = try! Role("developer")
    let team = try! Team("core")
    let token = try! minter.mint(agent: agent, role: role, team: team).token

    Benchmark("token mint") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! minter.mint(agent: agent, role: role, team: team))
        }
    }
    Benchmark("token verify (end to end)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(verifier.check(token))
        }
    }

    // MARK: AES-256-GCM

    let aes = try! AESGCMKey(SecureBytes(copying: keyBytes))
    let anchorAES = SymmetricKey(data: keyBytes)
    let aad = [UInt8](repeating: 1, count: 16)
    for (label, size, scaling) in [("64 B", 64, BenchmarkScalingFactor.kilo), ("4 KiB", 4096, .kilo), ("1 MiB", 1 << 20, .one)] {
        let plaintext = [UInt8](repeating: 0x42, count: size)
        let box = try! aes.seal(plaintext, authenticating: aad)
        let configuration = Benchmark.Configuration(scalingFactor: scaling)
        Benchmark("AES-256-GCM seal \(label)", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try! aes.seal(plaintext, authenticating: aad))
            }
        }
        Benchmark("AES-256-GCM open \(label)", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try! aes.open(box, authenticating: aad))
            }
        }
        let anchorBox = try! AES.GCM.seal(plaintext, using: anchorAES, authenticating: aad)
        Benchmark("anchor: swift-crypto AES.GCM open \(label)", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try! AES.GCM.open(anchorBox, using: anchorAES, authenticating: aad))
            }
        }
    }

    pipelineBenchmarks()
    vaultBenchmarks()
    storeBenchmarks()
    accountBenchmarks()
}
