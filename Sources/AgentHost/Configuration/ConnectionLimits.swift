/// What one connection may send and how long it may take, enforced before the HTTP parser sees a
/// byte (`ConnectionGuard`). Docs/OPERATING.md explains each limit.
///
/// The defaults suit a server that agents and an orchestrator call with short heads: a request
/// head of at most 32 KiB in 100 fields, sent within 10 seconds; a keep-alive connection closed
/// after 75 idle seconds (longer than nginx's 60-second upstream keep-alive, so the proxy closes
/// first); a body that pauses 30 seconds closed; at most 4,096 connections at once.
public struct ConnectionLimits: Sendable, Equatable {
    /// The most bytes of a request head: the request line, every header line and the empty line
    /// that ends them. Past it: `431` and the connection is closed.
    public var headBytes: Int
    /// The most bytes of the request line alone. Past it: `414` and the connection is closed.
    public var requestLineBytes: Int
    /// The most header fields of one request. Past it: `431` and the connection is closed.
    public var headerFields: Int
    /// How long a client may take to send a whole request head, counted from its first byte (or,
    /// for a connection's first request, from connecting). Past it: `408` and closed.
    public var headTimeout: Duration
    /// How long a connection may wait between requests with nothing sent. Past it: closed.
    public var idleTimeout: Duration
    /// How long a request body may pause between two reads. Past it: closed.
    public var bodyTimeout: Duration
    /// The most connections open at once. A connection past it is answered `503` and closed at
    /// once, rather than left waiting in the listen queue.
    public var connections: Int

    public init(
        headBytes: Int = 32 * 1024, requestLineBytes: Int = 8 * 1024, headerFields: Int = 100,
        headTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(75), bodyTimeout: Duration = .seconds(30),
        connections: Int = 4_096
    ) {
        self.headBytes = headBytes
        self.requestLineBytes = requestLineBytes
        self.headerFields = headerFields
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.connections = connections
    }

    /// What ``validate()`` accepts for the sizes and counts (the request line's upper bound is
    /// ``headBytes``).
    static let headBytesRange = 256...(1 << 20)
    static let requestLineBytesFloor = 64
    static let headerFieldsRange = 8...10_000
    static let connectionsRange = 1...1_000_000

    /// Throws ``AgentHostError`` naming the `serve` option of a limit that cannot work: a size or
    /// count below its floor (a head must fit a request line, a request line a short path) or a
    /// timeout that is not positive.
    public func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw AgentHostError(.configuration, message) } }
        try require(Self.headBytesRange.contains(headBytes), "--max-head-bytes must be between 256 and 1048576")
        try require(
            (Self.requestLineBytesFloor...max(Self.requestLineBytesFloor, headBytes)).contains(requestLineBytes),
            "--max-request-line-bytes must be between 64 and --max-head-bytes")
        try require(Self.headerFieldsRange.contains(headerFields), "--max-header-fields must be between 8 and 10000")
        try require(headTimeout > .zero, "--head-timeout must be more than 0")
        try require(idleTimeout > .zero, "--idle-timeout must be more than 0")
        try require(bodyTimeout > .zero, "--body-timeout must be more than 0")
        try require(Self.connectionsRange.contains(connections), "--max-connections must be between 1 and 1000000")
    }
}
