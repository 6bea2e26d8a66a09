import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SecurityCore
public import ServiceLifecycle

/// The tunnels of launched agents to hosts that are not brokered upstreams (Docs/RUN.md, "Other
/// hosts"): HTTP `CONNECT host:port` on a listener of its own (`connect_port`), which
/// `agenthost run` gives its command as `HTTPS_PROXY`.
///
/// It holds at most `max_connections` connections at once (a tunnel's and the ones being set up;
/// each has 15 s to become a tunnel). Each tunnel is decided by the lease, the run's allow-list,
/// the agent's `egress` rate limit and the address the name resolves to, then relayed byte for
/// byte: no TLS is
/// intercepted. Every tunnel is audited when it closes (`connect.tunnel`: host, address, bytes
/// each way, duration), every refusal when it is made (`connect.refused`).
public struct ConnectProxy: Service {
    let components: AgentHost.Components
    let host: String
    let port: Int
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// A proxy for `components`' runs on `host`:`port` (0 picks a free port, handed to
    /// `onListening`).
    public init(
        components: AgentHost.Components, host: String, port: Int, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.components = components
        self.host = host
        self.port = port
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let egress = Egress(components: components)
        // As many connections as the HTTP server takes (max_connections), counted apart.
        let slots = ConnectionSlots(limit: components.configuration.connectionLimits.connections)
        let metrics = components.metrics
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                guard slots.take() else {
                    metrics.increment("agenthost_connections_closed_total", [("reason", "connect_proxy_full")])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in slots.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectHandler(egress: egress))
                }
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        logger.notice("CONNECT proxy for launched agents listening", metadata: ["address": "\(host):\(bound)"])
        await onListening(bound)
        // Until shutdown; tunnels under way end with their own ends.
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// One client connection of the CONNECT proxy: reads the request head, asks ``Egress``, then
/// either answers the refusal and closes, or connects and becomes a relay.
final class ConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The longest request head read.
    static let maximumHeadBytes = 8192
    /// How long the head, the decision and the connection may take together.
    static let setupTimeout = TimeAmount.seconds(15)

    private enum State {
        case head, deciding, tunnel, done
    }

    private let egress: Egress
    private var state = State.head
    private var buffered = ByteBuffer()
    private var timer: Scheduled<Void>?

    init(egress: Egress) {
        self.egress = egress
    }

    private var components: AgentHost.Components { egress.components }

    func channelActive(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.setupTimeout) { [self] in
            guard state == .head || state == .deciding else { return }
            refuse(Refusal(status: 408, code: .headTimeout, detail: "The tunnel was not set up in time."), context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        state = .done
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard state == .head || state == .deciding else { return }
        buffered.writeBuffer(&bytes)
        guard state == .head else {
            // A client that sends ahead of the answer: kept for the tunnel, within bounds.
            if buffered.readableBytes > 64 << 10 {
                refuse(Refusal(status: 400, code: .invalidHTTP, detail: "Too much was sent before the tunnel was open."), context: context)
            }
            return
        }
        guard let end = buffered.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else {
            if buffered.readableBytes > Self.maximumHeadBytes {
                refuse(Refusal(status: 431, code: .headTooLarge, detail: "The request head is too large."), context: context)
            }
            return
        }
        let headLength = end.upperBound - buffered.readerIndex
        guard headLength <= Self.maximumHeadBytes, let text = buffered.readString(length: headLength) else {
            refuse(Refusal(status: 431, code: .headTooLarge, detail: "The request head is too large."), context: context)
            return
        }
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        let requestLine = lines.first?.split(separator: " ", omittingEmptySubsequences: false) ?? []
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
            refuse(Refusal(status: 400, code: .invalidHTTP, detail: "The request line is not HTTP/1.1."), context: context)
            return
        }
        guard requestLine[0] == "CONNECT" else {
            refuse(
                Refusal(
                    status: 405, code: .methodNotAllowed, detail: "This port answers CONNECT host:port only (HTTPS_PROXY).",
                    headers: [HeaderField(name: "Allow", value: "CONNECT")]), context: context)
            return
        }
        state = .deciding
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        let request = Egress.Request(
            authority: String(requestLine[1]), credential: Self.credential(lines.dropFirst()),
            client: context.channel.remoteAddress?.ipAddress.flatMap { IPAddress($0) })
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop, egress = self.egress
        Task {
            let decision = await egress.decide(request)
            loop.execute {
                let (handler, context) = bound.value
                handler.apply(decision, context: context)
            }
        }
    }

    /// The lease in `Proxy-Authorization`: the password of Basic (what `HTTPS_PROXY=http://user:lease@…`
    /// makes a client send), or a Bearer token.
    static func credential(_ lines: some Sequence<Substring>) -> String? {
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "proxy-authorization" else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            switch parts[0].lowercased() {
            case "bearer": return String(parts[1])
            case "basic":
                guard let decoded = Data(base64Encoded: String(parts[1])), let pair = String(data: decoded, encoding: .utf8),
                    let separator = pair.firstIndex(of: ":")
                else { return nil }
                return String(pair[pair.index(after: separator)...])
            default: return nil
            }
        }
        return nil
    }

    private func apply(_ decision: Egress.Decision, context: ChannelHandlerContext) {
        guard state == .deciding else { return }
        switch decision {
        case .refuse(let refusal, let actor):
            components.audit(
                "connect", "connect.refused", actor: actor, client: context.channel.remoteAddress?.ipAddress ?? "",
                details: ["code": refusal.problem.code, "status": "\(refusal.status)"])
            refuse(refusal, context: context)
        case .allow(let address, let authority, let principal, let run):
            let started = components.ticks.nanoseconds()
            ClientBootstrap(group: context.eventLoop)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.autoRead, value: false)
                .connectTimeout(.seconds(10))
                .connect(to: address)
                .assumeIsolated()
                .whenComplete { [self] result in
                    switch result {
                    case .failure:
                        refuse(
                            Refusal(status: 502, code: .upstreamUnreachable, detail: "\(authority.prefix(270)) could not be reached."),
                            context: context)
                    case .success(let outbound):
                        open(outbound, context: context) { up, down in
                            self.components.audit(
                                "connect", "connect.tunnel", actor: principal.id, target: authority,
                                client: context.channel.remoteAddress?.ipAddress ?? "",
                                details: [
                                    "run": run.id.hex, "address": address.ipAddress ?? "-", "bytes_up": "\(up)", "bytes_down": "\(down)",
                                    "milliseconds": "\((self.components.ticks.nanoseconds() - started) / 1_000_000)",
                                ])
                        }
                    }
                }
        }
    }

    /// Answers `200 Connection Established`, joins the two channels, and calls `closed` with the
    /// bytes each way when the client's side closes.
    private func open(_ outbound: any Channel, context: ChannelHandlerContext, closed: @escaping (Int, Int) -> Void) {
        guard state == .deciding, context.channel.isActive else {
            outbound.close(promise: nil)
            return
        }
        state = .tunnel
        timer?.cancel()
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")), promise: nil)
        let (client, server) = RelayHandler.pair()
        do {
            try context.pipeline.syncOperations.addHandler(client, position: .after(self))
            try outbound.pipeline.syncOperations.addHandler(server)
            client.writeEarly(buffered)
            buffered.clear()
            context.channel.closeFuture.assumeIsolated().whenComplete { _ in closed(client.bytesRead, server.bytesRead) }
            outbound.closeFuture.assumeIsolated().whenComplete { _ in context.channel.close(promise: nil) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            try outbound.syncOptions?.setOption(.autoRead, value: true)
            try context.channel.syncOptions?.setOption(.autoRead, value: true)
        } catch {
            outbound.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// Answers `refusal` as problem+json and closes.
    private func refuse(_ refusal: Refusal, context: ChannelHandlerContext) {
        guard state == .head || state == .deciding else { return }
        state = .done
        timer?.cancel()
        let body = refusal.problem.typed(namespace: AgentHost.problemNamespace).json
        var head = "HTTP/1.1 \(refusal.status) \(HTTPResponseStatus(statusCode: refusal.status).reasonPhrase)\r\n"
        head += "Content-Type: \(Problem.mediaType)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        for header in refusal.headers { head += "\(header.name): \(header.value)\r\n" }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head + "\r\n" + body))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
