import Synchronization

/// Rate-limit buckets in this process's memory, with a hard cap on how many keys it tracks.
///
/// Keys are hashed with the standard library's per-process random seed (SipHash), so a client
/// cannot choose keys that collide; scope and key together pick one of 16 shards. Charging or
/// checking a bucket that is already tracked takes no lock: one 16-byte compare-and-swap on its
/// slot, so two cores charging different clients write no memory in common. A new key, and a call
/// that must decide several buckets together, lock the shards involved (in index order). Memory
/// stays under the cap: see ``BucketTable`` for what is dropped first and how the lock-free path
/// stays correct.
///
/// ```swift
/// let store = InMemoryRateLimitStore(maximumKeys: 1_000_000)
/// ```
public final class InMemoryRateLimitStore: RateLimitStore {
    /// The default cap on tracked buckets.
    public static let defaultMaximumKeys = 1_000_000
    static let shardCount = 16

    private let shards: [BucketTable]
    /// The same tables, reached without touching their reference counts: the two cores would
    /// otherwise both write each table's header on every call.
    private let tables: [Unmanaged<BucketTable>]
    /// The cap on tracked buckets across all shards.
    public let maximumKeys: Int

    /// A store that tracks at most `maximumKeys` buckets (at least one per shard).
    public init(maximumKeys: Int = InMemoryRateLimitStore.defaultMaximumKeys) {
        let perShard = max(1, (maximumKeys + Self.shardCount - 1) / Self.shardCount)
        self.maximumKeys = perShard * Self.shardCount
        shards = (0..<Self.shardCount).map { _ in BucketTable(maximumCount: perShard) }
        tables = shards.map { Unmanaged.passUnretained($0) }
    }

    /// How many buckets are tracked now.
    public var trackedKeys: Int {
        shards.reduce(0) { total, table in total + table.count }
    }

    /// Bytes held by the bucket tables (slots only; the fixed per-shard overhead is not counted).
    public var tableBytes: Int {
        shards.reduce(0) { total, table in total + table.capacity * SlotBuffer.slotBytes }
    }

    public func acquire(_ request: BucketRequest, mode: AcquireMode, now: Int64) -> BucketState {
        let hash = Self.hash(scope: request.scope, key: request.key)
        return tables[Self.shard(of: hash)]._withUnsafeGuaranteedRef { table in
            table.tryAcquire(hash, request: request, mode: mode, now: now)
                ?? table.withLock { locked in Self.acquireLocked(request, hash: hash, in: locked, mode: mode, now: now) }
        }
    }

    private static func acquireLocked(
        _ request: BucketRequest, hash: UInt64, in table: BucketTable.Locked, mode: AcquireMode, now: Int64
    ) -> BucketState {
        guard let index = table.find(hash) else {
            let (state, arrival) = GCRA.evaluate(stored: nil, request: request, now: now)
            if commits(mode, allowed: state.allowed) {
                table.store(hash, arrival: charged(arrival, state: state, request: request), now: now)
            }
            return state
        }
        if mode == .check {
            return GCRA.evaluate(stored: table.arrival(at: index), request: request, now: now).state
        }
        let stored = table.take(index)
        let (state, arrival) = GCRA.evaluate(stored: stored, request: request, now: now)
        table.put(index, arrival: commits(mode, allowed: state.allowed) ? charged(arrival, state: state, request: request) : stored)
        return state
    }

    public func acquire(_ requests: [BucketRequest], mode: AcquireMode, now: Int64) -> [BucketState] {
        switch requests.count {
        case 0: return []
        case 1: return [acquire(requests[0], mode: mode, now: now)]
        default: return acquireLocked(requests, hashes: requests.map { Self.hash(scope: $0.scope, key: $0.key) }, mode: mode, now: now)
        }
    }

    /// Two buckets (a request scope and the authentication-failure scope, the pipeline's usual
    /// pair). A check of two different buckets takes no lock; one bucket named twice is checked
    /// under the lock, the second request seeing what the first would leave.
    public func acquire(
        _ first: BucketRequest, _ second: BucketRequest, mode: AcquireMode, now: Int64
    ) -> (BucketState, BucketState) {
        let firstHash = Self.hash(scope: first.scope, key: first.key)
        let secondHash = Self.hash(scope: second.scope, key: second.key)
        if mode == .check, firstHash != secondHash,
            let firstState = tables[Self.shard(of: firstHash)]._withUnsafeGuaranteedRef({
                $0.tryAcquire(firstHash, request: first, mode: mode, now: now)
            }),
            let secondState = tables[Self.shard(of: secondHash)]._withUnsafeGuaranteedRef({
                $0.tryAcquire(secondHash, request: second, mode: mode, now: now)
            })
        {
            return (firstState, secondState)
        }
        let states = acquireLocked([first, second], hashes: [firstHash, secondHash], mode: mode, now: now)
        return (states[0], states[1])
    }

    /// Several buckets decided together, with every shard involved locked (in index order).
    private func acquireLocked(_ requests: [BucketRequest], hashes: [UInt64], mode: AcquireMode, now: Int64) -> [BucketState] {
        let shardIndices = hashes.map(Self.shard(of:))
        let ordered = Array(Set(shardIndices)).sorted()
        return withLocks(ordered[...], held: []) { locked in
            let tableOf = { (position: Int) in locked[ordered.firstIndex(of: shardIndices[position])!] }
            // Freeze every tracked bucket involved, so lock-free charges of them wait for this call.
            var taken = [UInt64: (index: Int, arrival: Int64)]()
            for (position, hash) in hashes.enumerated() where taken[hash] == nil {
                let table = tableOf(position)
                if let index = table.find(hash) { taken[hash] = (index, table.take(index)) }
            }
            // Evaluate in order against what the earlier requests of this call would leave, so two
            // requests for one bucket are checked together; write only after all are decided.
            var pending = [UInt64: Int64]()
            var states = [BucketState]()
            for (position, request) in requests.enumerated() {
                let hash = hashes[position]
                let (state, arrival) = GCRA.evaluate(stored: pending[hash] ?? taken[hash]?.arrival, request: request, now: now)
                states.append(state)
                pending[hash] = Self.charged(arrival, state: state, request: request)
            }
            let commit = Self.commits(mode, allowed: states.allSatisfy(\.allowed))
            // Put every frozen bucket back before storing new keys, which may move slots.
            for (position, hash) in hashes.enumerated() {
                guard let (index, arrival) = taken.removeValue(forKey: hash) else { continue }
                tableOf(position).put(index, arrival: commit ? pending[hash]! : arrival)
            }
            guard commit else { return states }
            for (position, hash) in hashes.enumerated() {
                guard let arrival = pending.removeValue(forKey: hash) else { continue }
                let table = tableOf(position)
                if table.find(hash) == nil { table.store(hash, arrival: arrival, now: now) }
            }
            return states
        }
    }

    static func commits(_ mode: AcquireMode, allowed: Bool) -> Bool {
        switch mode {
        case .check: false
        case .ifAllAllowed: allowed
        case .always: true
        }
    }

    /// The arrival time to store: a refused event that is counted anyway (``AcquireMode/always``)
    /// still moves the bucket on by its cost.
    static func charged(_ arrival: Int64, state: BucketState, request: BucketRequest) -> Int64 {
        state.allowed ? arrival : arrival + request.scope.emissionInterval * Int64(request.cost)
    }

    /// Locks the shards in `indices` in order and lends `body` their tables.
    private func withLocks(
        _ indices: ArraySlice<Int>, held: [BucketTable.Locked], _ body: ([BucketTable.Locked]) -> [BucketState]
    ) -> [BucketState] {
        guard let first = indices.first else { return body(held) }
        return shards[first].withLock { locked in
            withLocks(indices.dropFirst(), held: held + [locked], body)
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
