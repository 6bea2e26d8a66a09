/// How large a request body may be: a default, and caps for particular routes.
///
/// The pipeline refuses a declared length over the cap with 413 before anything else runs; a
/// server must also stop reading a body that grows past ``limit(method:path:)`` (AgentHost does),
/// since a chunked body declares no length.
///
/// ```swift
/// let limits = try BodyLimits(default: 1 << 20, routes: [(RouteMatch("POST /api/uploads")!, 16 << 20)])
/// ```
public struct BodyLimits: Hashable, Sendable {
    /// The cap for routes not listed in ``routes``: 1 MiB unless configured.
    public let defaultLimit: Int
    /// Route caps, tried in order; the first match wins.
    public let routes: [RouteLimit]

    /// One route's cap.
    public struct RouteLimit: Hashable, Sendable {
        public let route: RouteMatch
        public let limit: Int
    }

    /// 1 MiB everywhere.
    public static let standard = BodyLimits(checkedDefault: 1 << 20, routes: [])

    /// Throws ``BodyLimitsError`` for a cap below 0 or above 1 GiB.
    public init(default defaultLimit: Int = 1 << 20, routes: [(RouteMatch, Int)] = []) throws {
        for limit in [defaultLimit] + routes.map(\.1) where !(0...(1 << 30)).contains(limit) {
            throw BodyLimitsError(.invalidLimit, "a body cap must be between 0 bytes and 1 GiB, not \(limit)")
        }
        self.init(checkedDefault: defaultLimit, routes: routes.map { RouteLimit(route: $0.0, limit: $0.1) })
    }

    private init(checkedDefault: Int, routes: [RouteLimit]) {
        self.defaultLimit = checkedDefault
        self.routes = routes
    }

    /// The cap for a request, in bytes.
    public func limit(method: String, path: Substring) -> Int {
        for entry in routes where entry.route.matches(method: method, path: path) { return entry.limit }
        return defaultLimit
    }
}

/// A body cap that cannot be used.
public struct BodyLimitsError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidLimit = "invalid_limit"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A body cap outside 0 bytes to 1 GiB.
        public static let invalidLimit = Code(.invalidLimit)

        public var description: String { value.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong, without secrets.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
