/// Applies the configured ``RateLimitScope``s to requests, in the pipeline's two places: before
/// authentication (per client) and after authorization (per principal).
///
/// Every applicable scope is checked before any is charged, so a request refused by one scope
/// spends from none. Requests refused later for other reasons (a bad credential, a policy denial)
/// still count against the client's scopes, and a failed authentication also spends from the
/// `authentication-failures` scopes.
///
/// ```swift
/// let limiter = RateLimiter(scopes: RateLimitScope.defaults)
/// let decision = limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: nil)
/// if let refusal = decision.refusal { respond(refusal) }
/// ```
public struct RateLimiter: Sendable {
    /// The scopes in force, in configuration order.
    public var scopes: [RateLimitScope] { storage.scopes }
    /// Where buckets live.
    public var store: any RateLimitStore { storage.store }

    /// Everything, behind one reference: the pipeline reaches the limiter through an optional in
    /// its configuration several times per request, and each of those reads copied an array and
    /// two existentials.
    private final class Storage: Sendable {
        let scopes: [RateLimitScope]
        let store: any RateLimitStore
        let ticks: any TickSource

        init(scopes: [RateLimitScope], store: any RateLimitStore, ticks: any TickSource) {
            self.scopes = scopes
            self.store = store
            self.ticks = ticks
        }
    }

    private let storage: Storage

    public init(
        scopes: [RateLimitScope] = RateLimitScope.defaults,
        store: any RateLimitStore = InMemoryRateLimitStore(),
        ticks: any TickSource = SystemTickSource()
    ) {
        storage = Storage(scopes: scopes, store: store, ticks: ticks)
    }

    /// The limiter's clock now, so one request's steps can share a reading (``check(method:path:also:client:at:)``
    /// and ``admit(method:path:also:client:principal:at:)``): reading the clock cost as much as a
    /// bucket update.
    func now() -> Int64 {
        storage.ticks.nanoseconds()
    }

    /// The key used when the client address is unknown: such requests share one bucket.
    public static let unknownClient = "unknown"

    /// Step 2, before authentication: would the client's request scopes, and its
    /// authentication-failure budget, admit one more request? Spends nothing.
    public func check(method: String, path: Substring, client: String?) -> RateLimitDecision {
        check(method: method, path: path, also: nil, client: client)
    }

    func check(method: String, path: Substring, also: RouteTarget?, client: String?, at now: Int64? = nil) -> RateLimitDecision {
        spend(buckets(method: method, path: path, also: also, client: client, principal: nil, counting: nil), mode: .check, at: now)
    }

    /// Step 5, after authorization: spends one request from every applicable request scope
    /// (client and principal keyed) if all of them allow it, else from none.
    public func admit(method: String, path: Substring, client: String?, principal: String?) -> RateLimitDecision {
        admit(method: method, path: path, also: nil, client: client, principal: principal)
    }

    func admit(
        method: String, path: Substring, also: RouteTarget?, client: String?, principal: String?, at now: Int64? = nil
    ) -> RateLimitDecision {
        spend(
            buckets(method: method, path: path, also: also, client: client, principal: principal, counting: .requests),
            mode: .ifAllAllowed, at: now
        )
    }

    /// A request that was refused after step 2 (bad credential, policy denial): it still spends
    /// from the client's request scopes, and from the authentication-failure scopes when
    /// `authenticationFailed`.
    public func recordRefused(method: String, path: Substring, client: String?, authenticationFailed: Bool) {
        recordRefused(method: method, path: path, also: nil, client: client, authenticationFailed: authenticationFailed)
    }

    func recordRefused(method: String, path: Substring, also: RouteTarget?, client: String?, authenticationFailed: Bool) {
        var requests = buckets(method: method, path: path, also: also, client: client, principal: nil, counting: .requests)
        if authenticationFailed {
            requests += buckets(
                method: method, path: path, also: also, client: client, principal: nil, counting: .authenticationFailures)
        }
        guard !requests.isEmpty else { return }
        _ = storage.store.acquire(requests, mode: .always, now: now())
    }

    /// Before checking a password for `account`: would the failure budgets of the client and of
    /// the account (the `authentication-failures` scopes keyed by principal) admit another
    /// attempt? Spends nothing. A refusal is temporary: the bucket refills, so nobody is locked out
    /// for good.
    public func checkAccount(method: String, path: Substring, client: String?, account: String) -> RateLimitDecision {
        spend(
            buckets(method: method, path: path, client: client, principal: account, counting: .authenticationFailures),
            mode: .check
        )
    }

    /// A failed password check for `account`: spends from the client's and the account's
    /// failure budgets.
    public func recordFailedLogin(method: String, path: Substring, client: String?, account: String) {
        let requests = buckets(method: method, path: path, client: client, principal: account, counting: .authenticationFailures)
        guard !requests.isEmpty else { return }
        _ = storage.store.acquire(requests, mode: .always, now: now())
    }

    /// A second route a request is also counted under: forward auth counts the original request
    /// and its own `GET /auth/verify`.
    struct RouteTarget {
        let method: String
        let path: Substring
    }

    /// The buckets of the scopes that apply to the request (or to `also`). With `principal == nil`,
    /// scopes keyed by principal are left out; `counting == nil` takes both kinds.
    func buckets(
        method: String, path: Substring, also: RouteTarget? = nil, client: String?, principal: String?,
        counting: RateLimitScope.Counts?
    ) -> [BucketRequest] {
        var buckets = [BucketRequest]()
        let clientKey = client ?? Self.unknownClient
        for scope in scopes
        where scope.applies(method: method, path: path) || also.map({ scope.applies(method: $0.method, path: $0.path) }) == true {
            if let counting, scope.counts != counting { continue }
            let key: String
            switch scope.key {
            case .client: key = clientKey
            case .principal:
                guard let principal else { continue }
                key = principal
            case .clientAndPrincipal:
                guard let principal else { continue }
                key = clientKey + "|" + principal
            }
            buckets.append(BucketRequest(scope: scope, key: key))
        }
        return buckets
    }

    /// Asks the store about `buckets` at `now` (the clock's reading when `nil`) and reports the
    /// scope that decides.
    private func spend(_ buckets: [BucketRequest], mode: AcquireMode, at now: Int64? = nil) -> RateLimitDecision {
        guard !buckets.isEmpty else { return .unlimited }
        return decide(buckets, storage.store.acquire(buckets, mode: mode, now: now ?? self.now()))
    }

    private func decide(_ requests: [BucketRequest], _ states: [BucketState]) -> RateLimitDecision {
        var chosen = 0
        for index in states.indices.dropFirst() where Self.reports(states[index], over: states[chosen]) {
            chosen = index
        }
        return RateLimitDecision(scope: requests[chosen].scope, state: states[chosen])
    }

    /// Whether `candidate` is the one to report instead of `best`: the refusing scope with the
    /// longest wait, or else the scope with the least left.
    private static func reports(_ candidate: BucketState, over best: BucketState) -> Bool {
        if candidate.allowed != best.allowed { return !candidate.allowed }
        return candidate.allowed ? candidate.remaining < best.remaining : candidate.retryAfter > best.retryAfter
    }
}

/// What the limiter said about one request: whether it may go on, and the headers that tell the
/// client where it stands.
public struct RateLimitDecision: Hashable, Sendable {
    /// The scope reported: the one that refused, or the one with the least left.
    public let scope: RateLimitScope?
    /// That scope's bucket.
    public let state: BucketState?

    /// No scope applied.
    public static let unlimited = RateLimitDecision(scope: nil, state: nil)

    /// Whether the request may go on.
    public var allowed: Bool { state?.allowed ?? true }

    /// `X-RateLimit-*` and the IETF draft `RateLimit-Policy` / `RateLimit` fields, plus
    /// `Retry-After` on a refusal. Empty when no scope applied.
    public var headers: [HeaderField] {
        guard let scope, let state else { return [] }
        let remaining = String(state.remaining)
        let reset = String(Self.seconds(state.resetAfter))
        var fields = [
            HeaderField(name: "X-RateLimit-Limit", value: scope.limitText),
            HeaderField(name: "X-RateLimit-Remaining", value: remaining),
            HeaderField(name: "X-RateLimit-Reset", value: reset),
            HeaderField(name: "RateLimit-Policy", value: scope.policyText),
            HeaderField(name: "RateLimit", value: scope.stateTextPrefix + remaining + ";t=" + reset),
        ]
        if !state.allowed {
            fields.append(HeaderField(name: "Retry-After", value: String(max(1, Self.seconds(state.retryAfter)))))
        }
        return fields
    }

    /// The 429 to send, or `nil` when the request may go on.
    public var refusal: Refusal? {
        guard let scope, let state, !state.allowed else { return nil }
        let wait = max(1, Self.seconds(state.retryAfter))
        let detail =
            scope.counts == .authenticationFailures
            ? "Too many failed authentications from this client (scope \(scope.name)); retry in \(wait) s."
            : "Rate limit of scope \(scope.name) reached: \(scope.limit) requests per \(scope.period.components.seconds) s; retry in \(wait) s."
        return Refusal(
            status: 429,
            problem: Problem(status: 429, code: .rateLimited, detail: detail, extensions: ["scope": .string(scope.name)]),
            headers: headers
        )
    }

    /// Whole seconds, rounded up.
    static func seconds(_ nanoseconds: Int64) -> Int64 {
        nanoseconds <= 0 ? 0 : (nanoseconds + 999_999_999) / 1_000_000_000
    }
}
