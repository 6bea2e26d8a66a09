import AsyncHTTPClient
import Logging
import NIOCore
import NIOSSL
public import ServiceLifecycle
import Synchronization

/// The configured upstreams and the HTTP clients that reach them: one client per upstream, made on
/// its first call, with that upstream's timeouts and trust roots, that never follows a redirect
/// and never decompresses.
///
/// It is a `Service`: ``AgentHost/application(configuration:components:logger:services:onServerRunning:)``
/// runs it beside the server, and it shuts the clients down once the server has stopped. An
/// embedder that serves the routes some other way calls ``shutdown()`` itself.
public final class UpstreamProxy: Service, Sendable {
    /// The upstreams by name.
    public let upstreams: [String: Upstream]
    /// Each upstream's extra certificate authorities, read once at start.
    private let trustRoots: [String: [NIOSSLCertificate]]
    private let clients = Mutex<State>(State())

    private struct State {
        var clients: [String: HTTPClient] = [:]
        var isShutDown = false
    }

    /// Reads each upstream's CA file. Throws ``AgentHostError`` naming the upstream whose file
    /// holds no PEM certificate.
    public init(upstreams: [Upstream]) throws {
        var byName: [String: Upstream] = [:]
        var roots: [String: [NIOSSLCertificate]] = [:]
        for upstream in upstreams {
            byName[upstream.name] = upstream
            guard let file = upstream.certificateAuthorityFile else { continue }
            let certificates = try? NIOSSLCertificate.fromPEMFile(file)
            guard let certificates, !certificates.isEmpty else {
                throw AgentHostError(.configuration, "upstream \(upstream.name): ca_file \(file.prefix(200)) holds no PEM certificate")
            }
            roots[upstream.name] = certificates
        }
        self.upstreams = byName
        self.trustRoots = roots
    }

    /// The upstream called `name`, if one is configured.
    func upstream(named name: String) -> Upstream? {
        upstreams[name]
    }

    /// The client for `upstream`, made on first use; `nil` once shut down.
    func client(for upstream: Upstream) -> HTTPClient? {
        clients.withLock { state in
            guard !state.isShutDown else { return nil }
            if let client = state.clients[upstream.name] { return client }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration(for: upstream))
            state.clients[upstream.name] = client
            return client
        }
    }

    private func configuration(for upstream: Upstream) -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let roots = trustRoots[upstream.name] { tls.additionalTrustRoots = [.certificates(roots)] }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: Self.timeAmount(upstream.connectTimeout), read: Self.timeAmount(upstream.timeout)),
            decompression: .disabled
        )
        configuration.connectionPool.idleTimeout = .seconds(60)
        return configuration
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Waits for the service group to shut down, then shuts the clients down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Shuts every client down; calls made afterwards are refused with `503`.
    public func shutdown() async throws {
        let made = clients.withLock { state in
            state.isShutDown = true
            defer { state.clients = [:] }
            return Array(state.clients.values)
        }
        for client in made { try await client.shutdown() }
    }
}
