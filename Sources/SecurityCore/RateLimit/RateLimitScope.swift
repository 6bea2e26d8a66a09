/// A named rate limit: how many requests per period, how big a burst, keyed by what, on which
/// routes, and whether it counts requests or failed authentications.
///
/// ```swift
/// let sensitive = try RateLimitScope(
///     name: "sensitive", limit: 20, period: .seconds(60), key: .client,
///     routes: [RouteMatch("POST /api/agents")!])
/// ```
public struct RateLimitScope: Hashable, Sendable {
    /// What a bucket is keyed by.
    public enum Key: String, Hashable, Sendable, CaseIterable {
        /// The client address (see ``ClientAddressResolver``).
        case client
        /// The authenticated principal's agent id.
        case principal
        /// The pair: one principal from one address.
        case clientAndPrincipal = "client+principal"
    }

    /// What spends from the bucket.
    public enum Counts: String, Hashable, Sendable, CaseIterable {
        /// Every request the scope applies to.
        case requests
        /// Only failed authentications; once they run out, every request from the key is refused
        /// until the bucket refills.
        case authenticationFailures = "authentication-failures"
    }

    /// The scope's name, shown in headers and 429 bodies.
    public var name: String { fields.name }
    /// Requests per period.
    public var limit: Int { fields.limit }
    /// The period of `limit`.
    public var period: Duration { fields.period }
    /// How many requests may come at once from a full bucket (defaults to `limit`).
    public var burst: Int { fields.burst }
    /// What the bucket is keyed by.
    public var key: Key { fields.key }
    /// What spends from it.
    public var counts: Counts { fields.counts }
    /// The routes it applies to; empty means every route.
    public var routes: [RouteMatch] { fields.routes }
    /// Whether servers that share a store share this scope's budgets (the default), or each
    /// server keeps its own (see ``InMemoryRateLimitStore/init(maximumKeys:sharesBudgets:)``).
    public var shared: Bool { fields.shared }

    /// Nanoseconds between two requests at the sustained rate.
    var emissionInterval: Int64 { fields.emissionInterval }
    /// The name hashed once (per process), so keying a bucket hashes only the key.
    var nameHash: Int { fields.nameHash }
    /// Header values that never change for the scope, written once.
    var limitText: String { fields.limitText }
    var policyText: String { fields.policyText }
    var stateTextPrefix: String { fields.stateTextPrefix }
    /// How far ahead of now a bucket's arrival time may run: `burst` intervals.
    var tolerance: Int64 { fields.tolerance }

    /// The values, shared by every copy: the limiter passes scopes around on every request, and
    /// copying one is then a single reference count instead of a dozen.
    private final class Fields: Sendable {
        let name: String
        let limit: Int
        let period: Duration
        let burst: Int
        let key: Key
        let counts: Counts
        let routes: [RouteMatch]
        let shared: Bool
        let emissionInterval: Int64
        let nameHash: Int
        let limitText: String
        let policyText: String
        let stateTextPrefix: String
        let tolerance: Int64

        init(
            name: String, limit: Int, period: Duration, burst: Int, key: Key, counts: Counts, routes: [RouteMatch], shared: Bool
        ) {
            let (seconds, attoseconds) = period.components
            self.name = name
            self.limit = limit
            self.period = period
            self.burst = burst
            self.key = key
            self.counts = counts
            self.routes = routes
            self.shared = shared
            self.emissionInterval = (seconds * 1_000_000_000 + attoseconds / 1_000_000_000) / Int64(limit)
            self.tolerance = emissionInterval * Int64(burst)
            self.nameHash = name.hashValue
            self.limitText = String(limit)
            self.policyText = "\"\(name)\";q=\(limit);w=\(seconds)"
            self.stateTextPrefix = "\"\(name)\";r="
        }
    }

    private let fields: Fields

    /// Scopes are equal when their configuration is (the derived values follow from it).
    public static func == (lhs: RateLimitScope, rhs: RateLimitScope) -> Bool {
        lhs.fields === rhs.fields
            || (lhs.name == rhs.name && lhs.limit == rhs.limit && lhs.period == rhs.period && lhs.burst == rhs.burst
                && lhs.key == rhs.key && lhs.counts == rhs.counts && lhs.routes == rhs.routes && lhs.shared == rhs.shared)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(limit)
        hasher.combine(period)
        hasher.combine(burst)
        hasher.combine(key)
        hasher.combine(counts)
        hasher.combine(routes)
        hasher.combine(shared)
    }

    /// Checks and builds a scope; `shared: false` keeps its budgets per server. Throws ``RateLimitError`` for an empty or odd name, a limit or
    /// burst below 1, or a period outside one second to one day.
    public init(
        name: String, limit: Int, period: Duration, burst: Int? = nil, key: Key = .client,
        counts: Counts = .requests, routes: [RouteMatch] = [], shared: Bool = true
    ) throws {
        guard (try? IdentifierRule.check(name, kind: "scope")) != nil else {
            throw RateLimitError(.invalidScope, "scope name must be 1-128 characters of A-Z a-z 0-9 _ -")
        }
        let (seconds, attoseconds) = period.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        guard seconds >= 1, seconds <= 86_400 else {
            throw RateLimitError(.invalidScope, "scope \(name): period must be between 1 second and 1 day")
        }
        guard limit >= 1, limit <= nanoseconds / 1000 else {
            throw RateLimitError(.invalidScope, "scope \(name): limit must be at least 1 and at most one per microsecond")
        }
        let burst = burst ?? limit
        guard burst >= 1, burst <= 1_000_000 else {
            throw RateLimitError(.invalidScope, "scope \(name): burst must be between 1 and 1000000")
        }
        self.init(checked: name, limit: limit, period: period, burst: burst, key: key, counts: counts, routes: routes, shared: shared)
    }

    /// Builds a scope from values already known to be valid (constants, checked by tests).
    package init(
        checked name: String, limit: Int, period: Duration, burst: Int, key: Key, counts: Counts, routes: [RouteMatch],
        shared: Bool = true
    ) {
        fields = Fields(
            name: name, limit: limit, period: period, burst: burst, key: key, counts: counts, routes: routes, shared: shared)
    }

    /// This scope with ``shared`` set to `shared`.
    public func sharing(_ shared: Bool) -> RateLimitScope {
        shared == self.shared
            ? self
            : RateLimitScope(
                checked: name, limit: limit, period: period, burst: burst, key: key, counts: counts, routes: routes, shared: shared)
    }

    /// Whether the scope applies to a request for `method` and `path`.
    public func applies(method: String, path: Substring) -> Bool {
        routes.isEmpty || routes.contains { $0.matches(method: method, path: path) }
    }

    /// Defaults that fit any server: `general`, 100 requests per minute per client on every route,
    /// and `auth-failures`, 10 failed authentications per minute per client. A server adds scopes of
    /// its own for its routes (AgentHost's are in `AgentHostRateLimits.swift`).
    public static var defaults: [RateLimitScope] {
        [
            RateLimitScope(checked: "general", limit: 100, period: .seconds(60), burst: 100, key: .client, counts: .requests, routes: []),
            RateLimitScope(
                checked: "auth-failures", limit: 10, period: .seconds(60), burst: 10, key: .client, counts: .authenticationFailures,
                routes: []),
        ]
    }
}

/// A route: an optional method and a ``PathTemplate``, for rate-limit scopes, body limits and
/// where a credential may be presented, matched as the policy's routes are.
///
/// Written `"/api/**"`, `"POST /api/agents"`, `"GET /api/agents/{agent}/grants"`. A final `*`
/// after a `/` or a name, the spelling before path templates (`"/api/*"`, `"/api/tokens*"`), reads
/// as `/**` (`/api/**`, `/api/tokens/**`): the whole segment, no longer a string prefix, so
/// `/api/tokens*` no longer covers `/api/tokensmith`.
public struct RouteMatch: Hashable, Sendable, CustomStringConvertible {
    /// The method, upper case; `nil` for any.
    public let method: String?
    /// The path.
    public let path: PathTemplate

    /// Parses `"/api/**"`, `"POST /api/agents"` and the like; `nil` if it is not of that shape.
    public init?(_ text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        var pathText = String(parts[parts.count - 1])
        if parts.count == 2 {
            guard parts[0].allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
            method = parts[0].uppercased()
        } else {
            method = nil
        }
        // The earlier spelling: a final `*` for "and everything under it".
        if pathText.hasSuffix("*"), !pathText.hasSuffix("**") {
            pathText = String(pathText.dropLast())
            if !pathText.hasSuffix("/") { pathText += "/" }
            pathText += "**"
        }
        guard let template = try? PathTemplate(pathText) else { return nil }
        path = template
    }

    /// Whether a request of `method` to `path` (decoded, no query) is on this route.
    public func matches(method requestMethod: String, path requestPath: Substring) -> Bool {
        if let method, method != requestMethod { return false }
        return path.matches(requestPath)
    }

    public var description: String { (method.map { $0 + " " } ?? "") + path.description }
}

/// A rate-limit configuration that cannot work.
public struct RateLimitError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidScope = "invalid_scope"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A scope's name, period, limit or burst is out of range.
        public static let invalidScope = Code(.invalidScope)

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
