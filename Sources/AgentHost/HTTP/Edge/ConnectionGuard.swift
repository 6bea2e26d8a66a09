import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import SecurityCore
import Synchronization

/// The HTTP edge of one connection: it holds the connection to ``ConnectionLimits`` before the
/// HTTP parser buffers anything, and closes what runs past them.
///
/// It sits first in the channel pipeline and sees the client's raw bytes:
/// - a connection past ``ConnectionLimits/connections`` is answered `503` and closed;
/// - a request head is counted by ``RequestHeadScanner`` as it arrives: an over-long request line
///   is answered `414`, a head too large or with too many fields `431`, and the connection closed;
/// - a head not complete within ``ConnectionLimits/headTimeout`` is answered `408` and closed; a
///   connection idle between requests past ``ConnectionLimits/idleTimeout``, or a body that pauses
///   past ``ConnectionLimits/bodyTimeout``, is closed.
///
/// ``RequestCycleObserver``, right after the parser, tells it where requests and responses end
/// (so it knows which timeout applies), hands it what the parser refuses (a `400`, or a `431`
/// for a pipelined head the scanner did not count), and turns it off once a connection upgrades
/// to a WebSocket. A refusal is written straight to the socket and the connection closed after a
/// short linger, so the client reads the answer rather than a reset. Each close is counted in
/// `agenthost_connections_closed_total{reason}`.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Where the connection is in its request cycle; each phase has its own timeout.
    enum Phase: Equatable {
        /// Reading a request head: ``ConnectionLimits/headTimeout`` from its first byte.
        case head
        /// The head is in, the body may still be arriving: ``ConnectionLimits/bodyTimeout`` between reads.
        case body
        /// The request is read and its response not finished: no timeout (a handler may stream).
        case handling
        /// Between requests: ``ConnectionLimits/idleTimeout``.
        case idle
        /// A WebSocket now: nothing here applies.
        case upgraded
        /// Refused or timed out: reads are dropped until the connection closes.
        case closing
    }

    /// Why a connection was closed early: the problem's code, and the `reason` label of the
    /// metric (one of the edge's ``ProblemCode``s: `.headTooLarge`, `.idleTimeout`, …).
    typealias CloseReason = ProblemCode

    private let limits: ConnectionLimits
    private let slots: ConnectionSlots
    private let metrics: AgentHostMetrics
    private let logger: Logger

    private(set) var phase = Phase.head
    private var scanner: RequestHeadScanner
    /// Requests whose head the parser produced and whose response has not ended.
    private var responsesOwed = 0
    /// Whether a response has begun on the wire and not ended: a refusal then only closes.
    private var responseOpen = false
    private var holdsSlot = false
    /// The parser refused a pipelined request while earlier ones were owed their answers: close
    /// once they have them.
    private var closeWhenAnswered = false
    private var activated = false

    /// When the current phase times out; `nil` for never.
    private var deadline: NIODeadline?
    /// The one timer; when it fires early (the deadline moved), it is set again for the deadline.
    private var timer: Scheduled<Void>?
    private var timerAt = NIODeadline.distantFuture
    private var context: ChannelHandlerContext?

    /// How long a refused connection is kept open, discarding what the client still sends, so
    /// that closing it does not reset the answer away.
    static let linger = TimeAmount.seconds(2)

    init(limits: ConnectionLimits, slots: ConnectionSlots, metrics: AgentHostMetrics, logger: Logger) {
        self.limits = limits
        self.slots = slots
        self.metrics = metrics
        self.logger = logger
        self.scanner = RequestHeadScanner(limits: limits)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { activate(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .closing:
            return  // refused: what the client still sends is dropped
        case .upgraded, .handling:
            break
        case .body:
            setDeadline(now + TimeAmount(limits.bodyTimeout))
        case .idle, .head:
            let starting = phase == .idle
            if starting {
                phase = .head
                scanner = RequestHeadScanner(limits: limits)
            }
            let buffer = unwrapInboundIn(data)
            let outcome = scanner.scan(buffer.readableBytesView)
            switch outcome {
            case .incomplete:
                // The head's deadline runs from its first byte. It is set only when the head did
                // not come whole in its first read: setting it for every request moved the timer
                // earlier, and so rescheduled it, once per request on a busy keep-alive connection.
                if starting { setDeadline(now + TimeAmount(limits.headTimeout)) }
            case .complete:
                // What follows the head is its body or a pipelined request: the parser frames it,
                // and the observer says when the request ends.
                phase = .body
                setDeadline(now + TimeAmount(limits.bodyTimeout))
            case .refused(.requestLineTooLong):
                refuse(
                    context, .requestLineTooLong, status: 414, detail: "The request line is longer than this server accepts.",
                    limit: limits.requestLineBytes)
                return
            case .refused(.headTooLarge):
                refuse(
                    context, .headTooLarge, status: 431, detail: "The request head is larger than this server accepts.",
                    limit: limits.headBytes)
                return
            case .refused(.tooManyFields):
                refuse(
                    context, .tooManyHeaderFields, status: 431, detail: "The request has more header fields than this server accepts.",
                    limit: limits.headerFields)
                return
            }
        }
        context.fireChannelRead(data)
    }

    // MARK: What the observer reports

    /// The parser produced a request head.
    func requestBegan() {
        responsesOwed += 1
        if phase == .handling || phase == .idle {  // a pipelined request the scanner did not see begin
            phase = .body
            setDeadline(now + TimeAmount(limits.bodyTimeout))
        }
    }

    /// The parser produced a request's end.
    func requestEnded() {
        guard phase == .body else { return }
        enterHandlingOrIdle()
    }

    /// A response head (not an informational one) was written.
    func responseBegan() {
        responseOpen = true
    }

    /// A response's end was written.
    func responseEnded() {
        responseOpen = false
        responsesOwed = max(0, responsesOwed - 1)
        if closeWhenAnswered, responsesOwed == 0, let context {
            // After the end just being written has gone out.
            context.eventLoop.assumeIsolated().execute { [self] in lingerAndClose(context) }
            return
        }
        if phase == .handling { enterHandlingOrIdle() }
    }

    /// The connection switched to a WebSocket: its own ping and close handling take over.
    func upgraded() {
        phase = .upgraded
        setDeadline(nil)
    }

    /// The parser refused what the client sent. Requests before it that are owed an answer get
    /// it first; nothing after it is read.
    func parserRefused(_ error: HTTPParserError) {
        guard let context, phase != .closing else { return }
        if responsesOwed > 0 || responseOpen {
            count(error == .headerOverflow ? .headTooLarge : .invalidHTTP, context)
            closeWhenAnswered = true
            phase = .closing
            setDeadline(nil)
            return
        }
        if error == .headerOverflow {
            refuse(
                context, .headTooLarge, status: 431, detail: "The request head is larger than this server accepts.", limit: limits.headBytes
            )
        } else {
            refuse(context, .invalidHTTP, status: 400, detail: "The request is not valid HTTP/1.1.")
        }
    }

    // MARK: Phases and timers

    private func activate(_ context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        guard slots.take() else {
            refuse(
                context, .tooManyConnections, status: 503,
                detail: "The server has as many connections open as it accepts; try again shortly.",
                limit: slots.limit, retryAfter: true
            )
            return
        }
        holdsSlot = true
        setDeadline(now + TimeAmount(limits.headTimeout))
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        deadline = nil
        if holdsSlot {
            holdsSlot = false
            slots.release()
        }
    }

    private func enterHandlingOrIdle() {
        if responsesOwed > 0 {
            phase = .handling
            setDeadline(nil)
        } else {
            phase = .idle
            setDeadline(now + TimeAmount(limits.idleTimeout))
        }
    }

    /// Moves the current phase's deadline. The timer is only set anew when it would fire too late:
    /// a request cycle moves the deadline several times, and most moves are later.
    private func setDeadline(_ newDeadline: NIODeadline?) {
        deadline = newDeadline
        guard let newDeadline, let context else { return }
        if timer != nil, timerAt <= newDeadline { return }
        timer?.cancel()
        timerAt = newDeadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: newDeadline) { [self] in
            timerFired()
        }
    }

    /// The time on the connection's event loop: what every deadline here is set and checked
    /// against, so a test on an `EmbeddedEventLoop` moves them with `advanceTime(by:)`.
    private var now: NIODeadline { context?.eventLoop.now ?? .now() }

    private func timerFired() {
        timer = nil
        guard let deadline, let context else { return }
        guard now >= deadline else {
            setDeadline(deadline)
            return
        }
        self.deadline = nil
        switch phase {
        case .head:
            if scanner.bytes > 0 {
                refuse(context, .headTimeout, status: 408, detail: "The request head did not arrive in time.")
            } else {
                close(context, .headTimeout)
            }
        case .body:
            close(context, .bodyTimeout)
        case .idle:
            close(context, .idleTimeout)
        case .closing:
            context.close(promise: nil)
        case .handling, .upgraded:
            break
        }
    }

    // MARK: Refusing

    /// Answers `status` with a problem+json body, written straight to the socket, then closes the
    /// connection after ``linger``. When a response is already under way or owed, writing would
    /// garble it, so the connection is only closed.
    private func refuse(
        _ context: ChannelHandlerContext, _ reason: CloseReason, status: Int, detail: String, limit: Int? = nil, retryAfter: Bool = false
    ) {
        guard responsesOwed == 0, !responseOpen else {
            close(context, reason)
            return
        }
        count(reason, context)
        let extensions: [String: JSONValue] = limit.map { ["limit": .integer(Int64($0))] } ?? [:]
        let problem = Problem(status: status, code: reason, detail: detail, extensions: extensions)
            .typed(namespace: AgentHost.problemNamespace)
        let body = problem.json
        var head = "HTTP/1.1 \(status) \(problem.title)\r\nContent-Type: \(Problem.mediaType)\r\nCache-Control: no-store\r\n"
        if retryAfter { head += "Retry-After: 1\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        context.write(wrapOutboundOut(.byteBuffer(ByteBuffer(string: head + body))), promise: nil)
        lingerAndClose(context)
    }

    /// Sends what is written and a FIN, drops what still arrives, and closes after ``linger``
    /// (or when the client closes first).
    private func lingerAndClose(_ context: ChannelHandlerContext) {
        phase = .closing
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        timer?.cancel()
        timer = nil
        setDeadline(now + Self.linger)
    }

    /// Closes the connection at once.
    private func close(_ context: ChannelHandlerContext, _ reason: CloseReason) {
        count(reason, context)
        phase = .closing
        setDeadline(nil)
        context.close(promise: nil)
    }

    private func count(_ reason: CloseReason, _ context: ChannelHandlerContext) {
        metrics.increment("agenthost_connections_closed_total", [("reason", reason.rawValue)])
        logger.debug(
            "connection closed at the HTTP edge",
            metadata: ["reason": .string(reason.rawValue), "peer": .string(context.remoteAddress?.ipAddress ?? "-")]
        )
    }
}

/// Reports each request's and response's start and end to the ``ConnectionGuard``, and hands it
/// what the HTTP parser refuses. It sits right after the parser. Once the connection upgrades to
/// a WebSocket it passes everything through untouched (what follows is no longer HTTP). It does
/// not leave the pipeline then: removing it while the `101` is being written loses the flush that
/// follows, and the client never sees the answer.
final class RequestCycleObserver: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let edge: ConnectionGuard
    /// The connection switched to a WebSocket: from then on everything passes through untouched.
    private var isUpgraded = false

    init(_ edge: ConnectionGuard) {
        self.edge = edge
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isUpgraded else {
            context.fireChannelRead(data)
            return
        }
        switch unwrapInboundIn(data) {
        case .head: edge.requestBegan()
        case .body: break
        case .end: edge.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !isUpgraded else {
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status == .switchingProtocols:
            isUpgraded = true
            edge.upgraded()
        case .head(let head) where head.status.code >= 200:
            edge.responseBegan()
        case .end:
            edge.responseEnded()
        case .head, .body:
            break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError {
            edge.parserRefused(error)
            return
        }
        context.fireErrorCaught(error)
    }
}

/// The open connections of one server, against ``ConnectionLimits/connections``.
final class ConnectionSlots: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot; `false`, taking none, when every slot is taken.
    func take() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    /// How many connections are open now.
    var count: Int { open.load(ordering: .relaxed) }
}

/// An HTTP/1 server child channel (with or without the WebSocket upgrade) with a
/// ``ConnectionGuard`` in front of its parser and a ``RequestCycleObserver`` right after it.
struct GuardedServerChannel<Base: ServerChildChannel>: ServerChildChannel {
    let base: Base
    let limits: ConnectionLimits
    let slots: ConnectionSlots
    let metrics: AgentHostMetrics

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Base.Value> {
        let edge = ConnectionGuard(limits: limits, slots: slots, metrics: metrics, logger: logger)
        do {
            try channel.pipeline.syncOperations.addHandler(edge, position: .first)
            let value = base.setup(channel: channel, logger: logger)
            // The base configured its pipeline synchronously; the observer goes right after its parser.
            let parser = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(RequestCycleObserver(edge), position: .after(parser))
            return value
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
