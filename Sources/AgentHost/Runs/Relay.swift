import NIOCore
import NIOPosix

/// A byte relay: every connection accepted at one address is joined to a new connection to
/// another, both on one event loop, bytes passed on as they come, with back-pressure (a side
/// that cannot write stops the other from reading).
///
/// `agenthost run --sandbox bwrap` uses two: outside, a Unix socket in a directory bound into
/// the sandbox, relayed to AgentHost's TCP address; inside, `127.0.0.1:<port>` in the
/// sandbox's own network namespace, relayed to that socket (Docs/RUN.md, "The bridge").
struct Relay: Sendable {
    /// Where a relay listens or connects.
    enum Address: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    let from: Address
    let to: Address

    /// Listens at ``from`` and relays until `body` returns; then stops listening (connections
    /// under way close with their ends).
    func serving<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        let group = MultiThreadedEventLoopGroup.singleton
        let target = to
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { inbound in
                Self.connect(target, on: inbound.eventLoop).flatMap { outbound in
                    inbound.eventLoop.makeCompletedFuture {
                        let (a, b) = RelayHandler.pair()
                        try inbound.pipeline.syncOperations.addHandler(a)
                        try outbound.pipeline.syncOperations.addHandler(b)
                        // It read nothing until its handler was in place.
                        try outbound.syncOptions?.setOption(.autoRead, value: true)
                    }
                }
            }
        let listener: any Channel
        switch from {
        case .tcp(let host, let port): listener = try await bootstrap.bind(host: host, port: port).get()
        case .unix(let path): listener = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
        do {
            let result = try await body()
            try? await listener.close()
            return result
        } catch {
            try? await listener.close()
            throw error
        }
    }

    private static func connect(_ address: Address, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
            .connectTimeout(.seconds(10))
        switch address {
        case .tcp(let host, let port): return bootstrap.connect(host: host, port: port)
        case .unix(let path): return bootstrap.connect(unixDomainSocketPath: path)
        }
    }
}

/// One half of a relayed pair: what its channel reads is written to its partner's channel. Both
/// channels live on one event loop, so the pair calls each other directly.
final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    /// A read was asked for while the partner could not take more.
    private var pendingRead = false
    /// The bytes this side's channel read (and passed on).
    private(set) var bytesRead = 0

    static func pair() -> (RelayHandler, RelayHandler) {
        let first = RelayHandler(), second = RelayHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    // What the partner asks of this side.

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func write(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    /// Writes `bytes` that arrived before the pair was joined (after a tunnel's head).
    func writeEarly(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        bytesRead += bytes.readableBytes
        partner?.write(NIOAny(bytes))
        partner?.flush()
    }

    private func flush() {
        context?.flush()
    }

    private func closeOutput() {
        context?.close(mode: .output, promise: nil)
    }

    private func close() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    // This side's events.

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesRead += unwrapInboundIn(data).readableBytes
        partner?.write(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.close()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The other end finished sending: pass the half-close on.
            partner?.closeOutput()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.close()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
