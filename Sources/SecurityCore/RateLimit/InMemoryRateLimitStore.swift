import Synchronization

/// Rate-limit buckets in this process's memory, with a hard cap on how many keys it tracks.
///
/// Keys are hashed with the standard library's per-process random seed (SipHash), so a client
/// cannot choose keys that collide; scope and key together pick one of 16 shards, each behind its
/// own lock, so the two cores rarely wait on each other. A call that touches several shards locks
/// them in index order. Memory stays under the cap: when a shard grows, buckets that are already full
/// are dropped first; at the cap a new key evicts a full bucket, else the least recently charged.
///
/// ```swift
/// let store = InMemoryRateLimitStore(maximumKeys: 1_000_000)
/// ```
public final class InMemoryRateLimitStore: RateLimitStore {
    /// The default cap on tracked buckets.
    public static let defaultMaximumKeys = 1_000_000
    static let shardCount = 16

    private final class Shard: Sendable {
        let table: Mutex<BucketTable>

        init(maximumCount: Int) {
            table = Mutex(BucketTable(maximumCount: maximumCount))
        }
    }

    private let shards: [Shard]
    /// The cap on tracked buckets across all shards.
    public let maximumKeys: Int

    /// A store that tracks at most `maximumKeys` buckets (at least one per shard).
    public init(maximumKeys: Int = InMemoryRateLimitStore.defaultMaximumKeys) {
        let perShard = max(1, (maximumKeys + Self.shardCount - 1) / Self.shardCount)
        self.maximumKeys = perShard * Self.shardCount
        shards = (0..<Self.shardCount).map { _ in Shard(maximumCount: perShard) }
    }

    /// How many buckets are tracked now.
    public var trackedKeys: Int {
        shards.reduce(0) { total, shard in total + shard.table.withLock { $0.count } }
    }

    /// Bytes held by the bucket tables (slots only; the fixed per-shard overhead is not counted).
    public var tableBytes: Int {
        shards.reduce(0) { total, shard in
            total + shard.table.withLock { $0.capacity } * MemoryLayout<BucketTable.Slot>.stride
        }
    }

    public func acquire(_ request: BucketRequest, mode: AcquireMode, now: Int64) -> BucketState {
        let hash = Self.hash(scope: request.scope, key: request.key)
        return shards[Self.shard(of: hash)].table.withLock { table in
            let (state, arrival) = GCRA.evaluate(stored: table.arrival(of: hash), request: request, now: now)
            if Self.commits(mode, allowed: state.allowed) {
                table.store(hash, arrival: Self.charged(arrival, state: state, request: request), now: now)
            }
            return state
        }
    }

    public func acquire(_ requests: [BucketRequest], mode: AcquireMode, now: Int64) -> [BucketState] {
        switch requests.count {
        case 1: return [acquire(requests[0], mode: mode, now: now)]
        case 2: return acquirePair(requests[0], requests[1], mode: mode, now: now)
        default: break
        }
        let hashes = requests.map { Self.hash(scope: $0.scope, key: $0.key) }
        let shardsInOrder = Set(hashes.map(Self.shard(of:))).sorted()
        return acquireLocking(shardsInOrder[...], requests: requests, hashes: hashes, stored: [:], mode: mode, now: now).states
    }

    /// Two buckets, the pipeline's usual pair (a request scope and the authentication-failure
    /// budget), decided with their one or two shards locked (the lower index first). Kept because
    /// the general path's sets and dictionaries cost about 2 % of a request's server CPU under
    /// `scripts/loadtest`: `RateLimiter.check`'s share of a `perf` profile was 3.0 % through the
    /// general path and is 1.2 % through this one (2026-12-04, Docs/BENCHMARKS.md).
    private func acquirePair(_ first: BucketRequest, _ second: BucketRequest, mode: AcquireMode, now: Int64) -> [BucketState] {
        let firstHash = Self.hash(scope: first.scope, key: first.key)
        let secondHash = Self.hash(scope: second.scope, key: second.key)
        // What each bucket holds in, and the arrival times to write back when the call commits.
        func decide(_ firstStored: Int64?, _ secondStored: Int64?) -> (states: [BucketState], charged: (Int64, Int64)?) {
            let (firstState, firstArrival) = GCRA.evaluate(stored: firstStored, request: first, now: now)
            let firstCharged = Self.charged(firstArrival, state: firstState, request: first)
            // The same bucket twice: the second request sees what the first would leave.
            let (secondState, secondArrival) = GCRA.evaluate(
                stored: secondHash == firstHash ? firstCharged : secondStored, request: second, now: now)
            let secondCharged = Self.charged(secondArrival, state: secondState, request: second)
            let commit = Self.commits(mode, allowed: firstState.allowed && secondState.allowed)
            return ([firstState, secondState], commit ? (firstCharged, secondCharged) : nil)
        }
        let (firstShard, secondShard) = (Self.shard(of: firstHash), Self.shard(of: secondHash))
        if firstShard == secondShard {
            return shards[firstShard].table.withLock { table in
                let result = decide(table.arrival(of: firstHash), table.arrival(of: secondHash))
                if let (firstArrival, secondArrival) = result.charged {
                    table.store(firstHash, arrival: firstArrival, now: now)
                    table.store(secondHash, arrival: secondArrival, now: now)  // the same bucket: the later value
                }
                return result.states
            }
        }
        func decideAcross(_ firstTable: inout BucketTable, _ secondTable: inout BucketTable) -> [BucketState] {
            let result = decide(firstTable.arrival(of: firstHash), secondTable.arrival(of: secondHash))
            if let (firstArrival, secondArrival) = result.charged {
                firstTable.store(firstHash, arrival: firstArrival, now: now)
                secondTable.store(secondHash, arrival: secondArrival, now: now)
            }
            return result.states
        }
        if firstShard < secondShard {
            return shards[firstShard].table.withLock { firstTable in
                shards[secondShard].table.withLock { secondTable in decideAcross(&firstTable, &secondTable) }
            }
        }
        return shards[secondShard].table.withLock { secondTable in
            shards[firstShard].table.withLock { firstTable in decideAcross(&firstTable, &secondTable) }
        }
    }

    /// Locks the first shard of `remaining`, reads its buckets into `stored`, and recurses; once
    /// every shard is locked, decides all `requests` together. On the way back out each shard
    /// writes its own buckets, if the decision commits, before its lock is released.
    private func acquireLocking(
        _ remaining: ArraySlice<Int>, requests: [BucketRequest], hashes: [UInt64], stored: [UInt64: Int64],
        mode: AcquireMode, now: Int64
    ) -> (states: [BucketState], writes: [UInt64: Int64]?) {
        guard let shard = remaining.first else {
            return Self.decide(requests, hashes: hashes, stored: stored, mode: mode, now: now)
        }
        return shards[shard].table.withLock { table in
            let mine = hashes.filter { Self.shard(of: $0) == shard }
            var stored = stored
            for hash in mine { stored[hash] = table.arrival(of: hash) }
            let result = acquireLocking(
                remaining.dropFirst(), requests: requests, hashes: hashes, stored: stored, mode: mode, now: now)
            if let writes = result.writes {
                for hash in mine { table.store(hash, arrival: writes[hash]!, now: now) }
            }
            return result
        }
    }

    /// Evaluates `requests` in order, each against what the earlier ones of this call would leave,
    /// so two requests for one bucket are checked together. Returns the arrival times to write
    /// when `mode` commits, else nil.
    private static func decide(
        _ requests: [BucketRequest], hashes: [UInt64], stored: [UInt64: Int64], mode: AcquireMode, now: Int64
    ) -> (states: [BucketState], writes: [UInt64: Int64]?) {
        var pending = stored
        var states = [BucketState]()
        for (request, hash) in zip(requests, hashes) {
            let (state, arrival) = GCRA.evaluate(stored: pending[hash], request: request, now: now)
            states.append(state)
            pending[hash] = charged(arrival, state: state, request: request)
        }
        return (states, commits(mode, allowed: states.allSatisfy(\.allowed)) ? pending : nil)
    }

    private static func commits(_ mode: AcquireMode, allowed: Bool) -> Bool {
        switch mode {
        case .check: false
        case .ifAllAllowed: allowed
        case .always: true
        }
    }

    /// The arrival time to store: a refused event that is counted anyway (``AcquireMode/always``)
    /// still moves the bucket on by its cost.
    private static func charged(_ arrival: Int64, state: BucketState, request: BucketRequest) -> Int64 {
        state.allowed ? arrival : arrival + request.scope.emissionInterval * Int64(request.cost)
    }

    static func hash(scope: RateLimitScope, key: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(scope.nameHash)
        hasher.combine(key)
        let value = UInt64(bitPattern: Int64(hasher.finalize()))
        return value == 0 ? 1 : value
    }

    static func shard(of hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash & UInt64(shardCount - 1))
    }
}
