// swift-tools-version:6.1
import PackageDescription

// libFuzzer harnesses for every parser SecurityCore writes by hand. A package of its own, like
// Benchmarks/, so the main package stays free of fuzzing flags. scripts/fuzz builds it with
// `-sanitize=fuzzer,address` and `-enable-testing` (the harnesses reach internal parsers through
// `@testable import`) and runs one target at a time; Docs/SECURITY-TESTING.md has the figures.
let package = Package(
    name: "agenthost-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "agenthost", path: ".."),
        // A second HMAC-SHA256, to check webhook verification against.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .executableTarget(
            name: "AgentHostFuzz",
            dependencies: [
                .product(name: "SecurityCore", package: "agenthost"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [
                // libFuzzer provides main(); the harness only defines LLVMFuzzerTestOneInput.
                .unsafeFlags(["-parse-as-library"]),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        )
    ]
)
