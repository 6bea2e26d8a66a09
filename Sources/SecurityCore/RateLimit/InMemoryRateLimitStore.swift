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

    final class Shard: Sendable {
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
        self.shards = (0..<Self.shardCount).map { _ in Shard(maximumCount: perShard) }
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
        if requests.count == 2 {
            let (first, second) = acquire(requests[0], requests[1], mode: mode, now: now)
            return [first, second]
        }
        let hashes = requests.map { Self.hash(scope: $0.scope, key: $0.key) }
        let shardIndices = hashes.map(Self.shard(of:))
        let ordered = Array(Set(shardIndices)).sorted()
        return withLocks(ordered[...], held: []) { tables in
            // Evaluate in order against what the earlier requests of this call would leave, so two
            // requests for one bucket are checked together; write only after all are decided.
            var pending = [UInt64: Int64]()
            var states = [BucketState]()
            for (index, request) in requests.enumerated() {
                let table = tables[ordered.firstIndex(of: shardIndices[index])!]
                let stored = pending[hashes[index]] ?? table.pointee.arrival(of: hashes[index])
                let (state, arrival) = GCRA.evaluate(stored: stored, request: request, now: now)
                states.append(state)
                pending[hashes[index]] = Self.charged(arrival, state: state, request: request)
            }
            guard Self.commits(mode, allowed: states.allSatisfy(\.allowed)) else { return states }
            for (index, hash) in hashes.enumerated() {
                tables[ordered.firstIndex(of: shardIndices[index])!].pointee.store(hash, arrival: pending[hash]!, now: now)
            }
            return states
        }
    }

    /// Two buckets (a request scope and the authentication-failure scope, the pipeline's usual
    /// pair), without the general path's arrays and dictionary.
    public func acquire(
        _ first: BucketRequest, _ second: BucketRequest, mode: AcquireMode, now: Int64
    ) -> (BucketState, BucketState) {
        let firstHash = Self.hash(scope: first.scope, key: first.key)
        let secondHash = Self.hash(scope: second.scope, key: second.key)
        return withTables(Self.shard(of: firstHash), Self.shard(of: secondHash)) { firstTable, secondTable in
            let (firstState, firstArrival) = GCRA.evaluate(stored: firstTable.pointee.arrival(of: firstHash), request: first, now: now)
            let firstCharged = Self.charged(firstArrival, state: firstState, request: first)
            // The same bucket twice: the second sees what the first would leave.
            let secondStored = secondHash == firstHash ? firstCharged : secondTable.pointee.arrival(of: secondHash)
            let (secondState, secondArrival) = GCRA.evaluate(stored: secondStored, request: second, now: now)
            let secondCharged = Self.charged(secondArrival, state: secondState, request: second)
            if Self.commits(mode, allowed: firstState.allowed && secondState.allowed) {
                if secondHash != firstHash { firstTable.pointee.store(firstHash, arrival: firstCharged, now: now) }
                secondTable.pointee.store(secondHash, arrival: secondCharged, now: now)
            }
            return (firstState, secondState)
        }
    }

    /// Locks the shards `first` and `second` (once when they are the same, else the lower first)
    /// and lends `body` their tables in that order.
    private func withTables(
        _ first: Int, _ second: Int,
        _ body: (UnsafeMutablePointer<BucketTable>, UnsafeMutablePointer<BucketTable>) -> (BucketState, BucketState)
    ) -> (BucketState, BucketState) {
        if first == second {
            return shards[first].table.withLock { table in
                withUnsafeMutablePointer(to: &table) { body($0, $0) }
            }
        }
        let (low, high) = first < second ? (first, second) : (second, first)
        return shards[low].table.withLock { lowTable in
            withUnsafeMutablePointer(to: &lowTable) { lowPointer in
                shards[high].table.withLock { highTable in
                    withUnsafeMutablePointer(to: &highTable) { highPointer in
                        first < second ? body(lowPointer, highPointer) : body(highPointer, lowPointer)
                    }
                }
            }
        }
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

    /// Locks the shards in `indices` in order and lends `body` their tables.
    private func withLocks(
        _ indices: ArraySlice<Int>, held: [UnsafeMutablePointer<BucketTable>],
        _ body: ([UnsafeMutablePointer<BucketTable>]) -> [BucketState]
    ) -> [BucketState] {
        guard let first = indices.first else { return body(held) }
        return shards[first].table.withLock { table in
            withUnsafeMutablePointer(to: &table) { pointer in
                withLocks(indices.dropFirst(), held: held + [pointer], body)
            }
        }
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
