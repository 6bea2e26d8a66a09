import Synchronization

/// Rate-limit buckets in this process's memory, with a hard cap on how many keys it tracks.
///
/// Keys are hashed with the standard library's per-process random seed (SipHash), so a client
/// cannot choose keys that collide; scope and key together pick one of 16 shards, each behind its
/// own lock, so the two cores rarely wait on each other. A call that touches several shards locks
/// them in index order. Memory stays under the cap: see ``BucketTable`` for what is dropped first.
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
        if requests.count == 1 { return [acquire(requests[0], mode: mode, now: now)] }
        let hashes = requests.map { Self.hash(scope: $0.scope, key: $0.key) }
        let shardsInOrder = Set(hashes.map(Self.shard(of:))).sorted()
        return acquireLocking(shardsInOrder[...], requests: requests, hashes: hashes, stored: [:], mode: mode, now: now).states
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
