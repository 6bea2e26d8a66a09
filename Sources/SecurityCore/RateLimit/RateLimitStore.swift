/// One bucket a request would spend from: which scope, whose key, and how much.
public struct BucketRequest: Hashable, Sendable {
    /// The scope, which sets the bucket's rate and burst.
    public let scope: RateLimitScope
    /// Whose bucket: a client address, a principal, or both joined (the scope decides).
    public let key: String
    /// Tokens to take; 1 for a request.
    public let cost: Int

    public init(scope: RateLimitScope, key: String, cost: Int = 1) {
        self.scope = scope
        self.key = key
        self.cost = cost
    }
}

/// A bucket after a check: whether the request fits, and what to tell the client.
public struct BucketState: Hashable, Sendable {
    /// Whether taking the cost stays within the bucket's burst.
    public let allowed: Bool
    /// Whole requests left after this one (0 when refused).
    public let remaining: Int
    /// Nanoseconds until the bucket is full again.
    public let resetAfter: Int64
    /// Nanoseconds until this request would fit; 0 when it fits now.
    public let retryAfter: Int64
}

/// When a store writes what it checked.
public enum AcquireMode: Sendable {
    /// Look only; change nothing.
    case check
    /// Spend from every bucket if all of them allow it; otherwise spend from none.
    case ifAllAllowed
    /// Spend from every bucket whatever they say (a failure that already happened is counted).
    case always
}

/// Where rate-limit buckets live. In memory by default; a shared database lets several servers
/// enforce one limit.
///
/// An implementation must treat one call as a unit: with ``AcquireMode/ifAllAllowed`` no other call
/// may spend from these buckets between the check and the write.
public protocol RateLimitStore: Sendable {
    /// Checks each bucket at time `now` (nanoseconds of the limiter's ``TickSource``), writes as
    /// `mode` says, and returns the states in the order of `requests`.
    func acquire(_ requests: [BucketRequest], mode: AcquireMode, now: Int64) -> [BucketState]

    /// ``acquire(_:mode:now:)`` for one bucket.
    func acquire(_ request: BucketRequest, mode: AcquireMode, now: Int64) -> BucketState
}

extension RateLimitStore {
    public func acquire(_ request: BucketRequest, mode: AcquireMode, now: Int64) -> BucketState {
        acquire([request], mode: mode, now: now)[0]
    }
}

/// The arithmetic of GCRA (the generic cell rate algorithm), a token bucket kept as one time.
///
/// A bucket of rate `limit / period` and size `burst` is the theoretical arrival time (TAT) of the
/// next request: each request moves it on by one emission interval `period / limit`, and a request
/// fits while the TAT stays within `burst` intervals of now. A TAT in the past is a full bucket.
///
/// Budgets shared with other servers (``InMemoryRateLimitStore/init(maximumKeys:sharesBudgets:)``)
/// pass the two terms that sharing changes: `untracked`, what a bucket this server does not track
/// holds (now, a full bucket, unless part of it is left to the other servers), and `weight`, what
/// one request costs (more than one interval while the others cannot be reached).
enum GCRA {
    static func evaluate(
        stored: Int64?, request: BucketRequest, now: Int64, untracked: Int64? = nil, weight: Int64 = 1
    ) -> (state: BucketState, arrival: Int64) {
        let interval = request.scope.emissionInterval
        let tolerance = request.scope.tolerance
        let current = max(stored ?? untracked ?? now, now)
        let next = current + interval * Int64(request.cost) * weight
        let ahead = next - now
        if ahead <= tolerance {
            return (BucketState(allowed: true, remaining: Int((tolerance - ahead) / interval), resetAfter: ahead, retryAfter: 0), next)
        }
        return (BucketState(allowed: false, remaining: 0, resetAfter: current - now, retryAfter: ahead - tolerance), current)
    }
}
