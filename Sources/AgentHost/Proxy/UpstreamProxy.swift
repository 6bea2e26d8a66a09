import AsyncHTTPClient
import Logging
import NIOCore
import NIOSSL
public import ServiceLifecycle
public import SecurityCore
import Synchronization

/// The configured upstreams and the HTTP clients that reach them: one client per upstream, made on
/// its first call, with that upstream's timeouts, trust roots and pool size, that never follows a
/// redirect and never decompresses.
///
/// It is a `Service`: ``AgentHost/application(configuration:components:logger:services:onServerRunning:)``
/// runs it beside the server; while the server runs it sweeps idle opened secrets out of
/// its cache, and it shuts the clients down once the server has stopped. An embedder that serves
/// the routes some other way calls ``shutdown()`` itself.
public final class UpstreamProxy: Service, Sendable {
    /// The upstreams by name.
    public let upstreams: [String: Upstream]
    /// Each upstream's extra certificate authorities, read once at start.
    private let trustRoots: [String: [NIOSSLCertificate]]
    private let clients = Mutex<State>(State())
    /// The calls each upstream has in flight, waiting for a connection or holding one.
    private let inFlight: [String: Counter]
    /// What calls made of opened secrets, per upstream, agent and secret version.
    let opened: OpenedSecretCache<ProxyRoutes.OpenedSecret>
    private let ticks: any TickSource

    private struct State {
        var clients: [String: HTTPClient] = [:]
        var isShutDown = false
    }

    /// Reads each upstream's CA file. Throws ``AgentHostError`` naming the upstream whose file
    /// holds no PEM certificate. `ticks` is what the opened secrets' idleness is read on.
    public init(upstreams: [Upstream], ticks: any TickSource = SystemTickSource()) throws {
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
        self.inFlight = byName.mapValues { _ in Counter() }
        self.ticks = ticks
        self.opened = OpenedSecretCache(ticks: ticks)
    }

    /// A place for one call to `upstream`, held until the call's answer has been passed on (or it
    /// failed): `nil` when ``Upstream/connections`` calls hold connections and
    /// ``Upstream/queue`` more wait for one.
    func admit(_ upstream: Upstream) -> Admission? {
        guard let counter = inFlight[upstream.name] else { return nil }
        let limit = upstream.connections + upstream.queue
        var current = counter.calls.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = counter.calls.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return Admission(counter) }
            current = original
        }
        return nil
    }

    /// The calls `upstream` has in flight.
    func callsInFlight(to upstream: String) -> Int {
        inFlight[upstream]?.calls.load(ordering: .relaxed) ?? 0
    }

    /// An upstream's calls in flight.
    fileprivate final class Counter: Sendable {
        let calls = Atomic<Int>(0)
    }

    /// One call's place at an upstream, given back when the last holder lets it go.
    final class Admission: Sendable {
        private let counter: Counter

        fileprivate init(_ counter: Counter) {
            self.counter = counter
        }

        deinit { counter.calls.subtract(1, ordering: .relaxed) }
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
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = upstream.connections
        configuration.httpVersion = upstream.http2 ? .automatic : .http1Only
        return configuration
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Sweeps idle opened secrets every `OpenedSecretCache.sweepInterval` until the service group
    /// shuts down, then shuts the clients down.
    public func run() async throws {
        await repeatUntilShutdown(every: OpenedSecretCache<ProxyRoutes.OpenedSecret>.sweepInterval, on: ticks) { opened.sweep() }
        try await shutdown()
    }

    /// Shuts every client down; calls made afterwards are refused with `503`.
    public func shutdown() async throws {
        let made = clients.withLock { state in
            state.isShutDown = true
            defer { state.clients = [:] }
            return Array(state.clients.values)
        }
        opened.removeAll()
        for client in made { try await client.shutdown() }
    }
}
