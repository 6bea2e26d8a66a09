// swift-tools-version:6.1
// Microbenchmarks for SecurityCore, and the load test's bare server, kept in their own package so
// the main package stays lean. Microbenchmarks: ../scripts/benchmark; HTTP load: ../scripts/loadtest
// (see ../Docs/BENCHMARKS.md).
import PackageDescription

let package = Package(
    name: "agenthost-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "agenthost", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // The load test's anchor: a bare Hummingbird server.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // The proxy's anchor: Hummingbird in, AsyncHTTPClient out, nothing else.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // Anchor only: the same operations through swift-crypto, to compare against.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .executableTarget(
            name: "BareServer",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "LoadTest/BareServer"
        ),
        .executableTarget(
            name: "BareForwarder",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "LoadTest/BareForwarder"
        ),
        .executableTarget(
            name: "SecurityCoreBenchmarks",
            dependencies: [
                .product(name: "SecurityCore", package: "agenthost"),
                .product(name: "SecurityStore", package: "agenthost"),
                .product(name: "AgentHost", package: "agenthost"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/SecurityCoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
