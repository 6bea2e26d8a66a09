import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import AgentHost

/// The HTTP edge's timeouts on an `EmbeddedChannel`, whose event loop's clock moves only when the
/// test advances it: each deadline is checked on both sides, to the nanosecond, with no real time
/// passing. (HTTPEdgeTests check the same limits end to end on the binary.)
struct ConnectionGuardTests {
    static let limits = ConnectionLimits(headTimeout: .seconds(3), idleTimeout: .seconds(5), bodyTimeout: .seconds(4))

    /// A connection behind a guard, active, with the metrics it counts into.
    static func connection() throws -> (EmbeddedChannel, AgentHostMetrics) {
        let (channel, metrics, _) = try guarded()
        return (channel, metrics)
    }

    /// `connection()`, and the guard itself, for what the request-cycle observer reports to it.
    static func guarded() throws -> (EmbeddedChannel, AgentHostMetrics, ConnectionGuard) {
        let metrics = AgentHostMetrics()
        let edge = ConnectionGuard(
            limits: limits, slots: ConnectionSlots(limit: 8), metrics: metrics,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let channel = EmbeddedChannel(handler: edge)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return (channel, metrics, edge)
    }

    static func closed(_ metrics: AgentHostMetrics, _ reason: String) -> Bool {
        String(decoding: metrics.exposition(), as: UTF8.self).contains(#"agenthost_connections_closed_total{reason="\#(reason)"} 1"#)
    }

    /// Sends half a head, steps the clock to a nanosecond before the head timeout (nothing said
    /// yet) and onto it: the `408` the guard then wrote.
    static func halfAHeadAnsweredAtItsTimeout(
        _ channel: EmbeddedChannel, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: "))
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(nanoseconds(limits.headTimeout) - 1))
        #expect(try channel.readOutbound(as: IOData.self) == nil, "answered before the head timeout", sourceLocation: sourceLocation)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        let answer = try written(channel)
        #expect(answer.hasPrefix("HTTP/1.1 408 "), "\(answer)", sourceLocation: sourceLocation)
        return answer
    }

    /// Everything the guard wrote to the socket so far, as text.
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var answer = ""
        while let part = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = part { answer += String(buffer: buffer) }
        }
        return answer
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// Steps the clock to a nanosecond before `timeout` (still open), then onto it: closed with
    /// nothing said, and counted under `reason`.
    static func expectSilentClose(
        _ channel: EmbeddedChannel, _ metrics: AgentHostMetrics, at timeout: Duration, reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(nanoseconds(timeout) - 1))
        #expect(channel.isActive, "closed before the \(reason)", sourceLocation: sourceLocation)
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive, "still open at the \(reason)", sourceLocation: sourceLocation)
        #expect(try channel.readOutbound(as: IOData.self) == nil, "closed with an answer", sourceLocation: sourceLocation)
        #expect(closed(metrics, reason), sourceLocation: sourceLocation)
    }

    @Test func aSilentConnectionIsClosedAtItsHeadTimeoutWithNothingSaid() throws {
        let (channel, metrics) = try Self.connection()
        // Silent from the start: the head timer starts with the first byte, or the connection.
        try channel.writeInbound(ByteBuffer())
        try Self.expectSilentClose(channel, metrics, at: Self.limits.headTimeout, reason: "head_timeout")
    }

    @Test func halfAHeadIsAnswered408AtItsHeadTimeoutThenClosedAfterTheLinger() throws {
        let (channel, metrics) = try Self.connection()
        let answer = try Self.halfAHeadAnsweredAtItsTimeout(channel)
        #expect(answer.contains(#""code":"head_timeout""#))
        #expect(Self.closed(metrics, "head_timeout"))
        // The answer lingers for the client to read it, then the connection goes.
        channel.embeddedEventLoop.advanceTime(by: ConnectionGuard.linger)
        #expect(!channel.isActive)
    }

    @Test func aBodyThatStopsArrivingIsClosedAtItsBodyTimeout() throws {
        let (channel, metrics) = try Self.connection()
        try channel.writeInbound(ByteBuffer(string: "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"part"))
        // Each piece of body moves the deadline on.
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        try channel.writeInbound(ByteBuffer(string: "ial\""))
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(Self.nanoseconds(Self.limits.bodyTimeout) - 1))
        #expect(channel.isActive, "closed before the body timeout since the last piece")
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(1))
        #expect(!channel.isActive)
        #expect(Self.closed(metrics, "body_timeout"))
    }

    @Test func aHeadThatDripsInStillHasOnlyItsHeadTimeoutInAll() throws {
        let (channel, metrics) = try Self.connection()
        let head = Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: yes\r\nX-Slower: yes\r\n\r\n".utf8)
        // One byte every 20 ms: each byte is progress, and none moves the head's deadline.
        let step = Self.nanoseconds(.milliseconds(20))
        var elapsed: Int64 = 0
        for byte in head.dropLast() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            guard elapsed + step < Self.nanoseconds(Self.limits.headTimeout) else { break }
            channel.embeddedEventLoop.advanceTime(by: .nanoseconds(step))
            elapsed += step
            #expect(channel.isActive, "closed \(elapsed) ns into the head, before its timeout")
        }
        #expect(elapsed < Self.nanoseconds(Self.limits.headTimeout))
        channel.embeddedEventLoop.advanceTime(by: .nanoseconds(Self.nanoseconds(Self.limits.headTimeout) - elapsed))
        #expect(Self.closed(metrics, "head_timeout"))
        channel.embeddedEventLoop.advanceTime(by: ConnectionGuard.linger)
        #expect(!channel.isActive)
    }

    @Test func aConnectionIdleAfterItsAnswerIsClosedAtItsIdleTimeout() throws {
        let (channel, metrics, edge) = try Self.guarded()
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        // What the request-cycle observer reports as the parser and the answer go by.
        edge.requestBegan()
        edge.requestEnded()
        // However long the answer takes, no timeout runs while it is owed.
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive, "closed while its answer was owed")
        edge.responseBegan()
        edge.responseEnded()
        try Self.expectSilentClose(channel, metrics, at: Self.limits.idleTimeout, reason: "idle_timeout")
    }

    /// On a kept-alive connection, a head that comes whole in one read goes straight to its body's
    /// deadline (no head timer is set for it); one that comes in part still has its head timeout,
    /// from its first byte.
    @Test func theNextRequestOnAKeptAliveConnectionHasItsOwnHeadTimeout() throws {
        let (channel, metrics, edge) = try Self.guarded()
        /// One whole request and its answer, as the observer reports them.
        func answerOne() throws {
            try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            edge.requestBegan()
            edge.requestEnded()
            edge.responseBegan()
            edge.responseEnded()
        }
        try answerOne()
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(4))  // idle, under the idle timeout
            try answerOne()
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        _ = try Self.halfAHeadAnsweredAtItsTimeout(channel)
        #expect(Self.closed(metrics, "head_timeout"))
    }
}
