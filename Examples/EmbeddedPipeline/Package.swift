// swift-tools-version:6.1
// A plain Hummingbird server of its own that calls SecurityCore's pipeline: the code of
// Docs/EMBEDDING.md, built by scripts/test so the guide cannot drift from the API.
import PackageDescription

let package = Package(
    name: "embedded-pipeline",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "agenthost", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "EmbeddedPipeline",
            dependencies: [
                .product(name: "SecurityCore", package: "agenthost"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
