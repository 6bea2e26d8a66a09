/// What this server spent from one shared bucket since the last reconciliation
/// (``InMemoryRateLimitStore/drainSharedSpends()``).
package struct SharedSpend: Sendable {
    /// The scope, which sets the bucket's interval.
    package let scope: RateLimitScope
    /// Whose bucket.
    package let key: String
    /// Requests spent.
    package internal(set) var cost: Int
    /// When the first of them was spent, on the limiter's ``TickSource``.
    package internal(set) var since: Int64
    /// The bucket's place in the store.
    let hash: UInt64

    /// The bucket's name across servers: the scope's name and the key, which a space separates
    /// (scope names have none).
    package var bucket: String { scope.name + " " + key }

    /// The spends as nanoseconds of the bucket's arrival time: `cost` emission intervals.
    package var nanoseconds: Int64 { Int64(cost) * scope.emissionInterval }
}
