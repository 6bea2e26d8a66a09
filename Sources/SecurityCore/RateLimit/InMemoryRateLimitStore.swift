import Synchronization

/// Rate-limit buckets in this process's memory, with a hard cap on how many keys it tracks.
///
/// Keys are hashed with the standard library's per-process random seed (SipHash), so a client
/// cannot choose keys that collide; scope and key together pick one of 16 shards, each behind its
/// own lock, so the two cores rarely wait on each other. A call that touches several shards locks
/// them in index order. Memory stays under the cap: when a shard grows, buckets that are already full
/// are dropped first; at the cap a new key evicts a full bucket, else the least recently charged.
///
/// With `sharesBudgets`, the buckets of ``RateLimitScope/shared`` scopes are one budget across
/// every server that shares a store: each server decides locally, records what it spent, and a
/// reconciler (AgentHost's `RateLimitSyncService` over PostgreSQL) sends those spends to the
/// shared table and folds everyone's spending back in (`drainSharedSpends()`,
/// `reconcile(_:now:)`, package API). Between two reconciliations a bucket this server does not track holds
/// only its share of a full bucket, so a burst spread over several servers is not admitted once by
/// each; while the others cannot be reached, each request costs as many intervals as there are
/// servers, so that each server keeps to its share of the limit (`updateSharing(servers:reachable:)`).
///
/// ```swift
/// let store = InMemoryRateLimitStore(maximumKeys: 1_000_000)
/// ```
public final class InMemoryRateLimitStore: RateLimitStore {
    /// The default cap on tracked buckets.
    public static let defaultMaximumKeys = 1_000_000
    static let shardCount = 16
    /// The cap on spends waiting for the next reconciliation, per shard: 65,536 in all.
    static let maximumPendingPerShard = 4096

    /// One shard's buckets, and the spends on shared budgets not yet reconciled.
    struct ShardState {
        var table: BucketTable
        var spends: [UInt64: SharedSpend] = [:]

        /// Stores `arrival` for the bucket of `request`, and records the spend when the bucket
        /// is shared. Returns `false` when the spend could not be recorded (too many pending).
        mutating func commit(_ hash: UInt64, arrival: Int64, request: BucketRequest, now: Int64, shares: Bool) -> Bool {
            table.store(hash, arrival: arrival, now: now)
            guard shares, request.scope.shared else { return true }
            if spends[hash] != nil {
                spends[hash]!.cost += request.cost
                return true
            }
            guard spends.count < InMemoryRateLimitStore.maximumPendingPerShard else { return false }
            spends[hash] = SharedSpend(scope: request.scope, key: request.key, cost: request.cost, since: now, hash: hash)
            return true
        }
    }

    private final class Shard: Sendable {
        let state: Mutex<ShardState>

        init(maximumCount: Int) {
            state = Mutex(ShardState(table: BucketTable(maximumCount: maximumCount)))
        }
    }

    private let shards: [Shard]
    /// The cap on tracked buckets across all shards.
    public let maximumKeys: Int
    /// Whether shared scopes' budgets are reconciled with other servers.
    public let sharesBudgets: Bool
    /// The servers sharing the budgets as last seen: positive while they can be reached, negated
    /// while they cannot.
    private let servers = Atomic<Int>(1)
    private let unrecorded = Atomic<Int>(0)

    /// A store that tracks at most `maximumKeys` buckets (at least one per shard). With
    /// `sharesBudgets`, shared scopes' spends are kept for a reconciler (see the type's summary).
    public init(maximumKeys: Int = InMemoryRateLimitStore.defaultMaximumKeys, sharesBudgets: Bool = false) {
        let perShard = max(1, (maximumKeys + Self.shardCount - 1) / Self.shardCount)
        self.maximumKeys = perShard * Self.shardCount
        self.sharesBudgets = sharesBudgets
        shards = (0..<Self.shardCount).map { _ in Shard(maximumCount: perShard) }
    }

    /// How many buckets are tracked now.
    public var trackedKeys: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.table.count } }
    }

    /// Bytes held by the bucket tables (slots only; the fixed per-shard overhead is not counted).
    public var tableBytes: Int {
        shards.reduce(0) { total, shard in
            total + shard.state.withLock { $0.table.capacity } * MemoryLayout<BucketTable.Slot>.stride
        }
    }

    public func acquire(_ request: BucketRequest, mode: AcquireMode, now: Int64) -> BucketState {
        let hash = Self.hash(scope: request.scope, key: request.key)
        let terms = terms(request.scope, now: now)
        return shards[Self.shard(of: hash)].state.withLock { shard in
            let (state, arrival) = GCRA.evaluate(
                stored: shard.table.arrival(of: hash), request: request, now: now, untracked: terms.untracked, weight: terms.weight)
            if Self.commits(mode, allowed: state.allowed) {
                record(
                    shard.commit(
                        hash, arrival: Self.charged(arrival, state: state, request: request, weight: terms.weight), request: request,
                        now: now, shares: sharesBudgets))
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
        let firstTerms = terms(first.scope, now: now), secondTerms = terms(second.scope, now: now)
        // What each bucket holds in, and the arrival times to write back when the call commits.
        func decide(_ firstStored: Int64?, _ secondStored: Int64?) -> (states: [BucketState], charged: (Int64, Int64)?) {
            let (firstState, firstArrival) = GCRA.evaluate(
                stored: firstStored, request: first, now: now, untracked: firstTerms.untracked, weight: firstTerms.weight)
            let firstCharged = Self.charged(firstArrival, state: firstState, request: first, weight: firstTerms.weight)
            // The same bucket twice: the second request sees what the first would leave.
            let (secondState, secondArrival) = GCRA.evaluate(
                stored: secondHash == firstHash ? firstCharged : secondStored, request: second, now: now,
                untracked: secondTerms.untracked, weight: secondTerms.weight)
            let secondCharged = Self.charged(secondArrival, state: secondState, request: second, weight: secondTerms.weight)
            let commit = Self.commits(mode, allowed: firstState.allowed && secondState.allowed)
            return ([firstState, secondState], commit ? (firstCharged, secondCharged) : nil)
        }
        let (firstShard, secondShard) = (Self.shard(of: firstHash), Self.shard(of: secondHash))
        if firstShard == secondShard {
            return shards[firstShard].state.withLock { shard in
                let result = decide(shard.table.arrival(of: firstHash), shard.table.arrival(of: secondHash))
                if let (firstArrival, secondArrival) = result.charged {
                    record(shard.commit(firstHash, arrival: firstArrival, request: first, now: now, shares: sharesBudgets))
                    // The same bucket: the later value.
                    record(shard.commit(secondHash, arrival: secondArrival, request: second, now: now, shares: sharesBudgets))
                }
                return result.states
            }
        }
        func decideAcross(_ firstShard: inout ShardState, _ secondShard: inout ShardState) -> [BucketState] {
            let result = decide(firstShard.table.arrival(of: firstHash), secondShard.table.arrival(of: secondHash))
            if let (firstArrival, secondArrival) = result.charged {
                record(firstShard.commit(firstHash, arrival: firstArrival, request: first, now: now, shares: sharesBudgets))
                record(secondShard.commit(secondHash, arrival: secondArrival, request: second, now: now, shares: sharesBudgets))
            }
            return result.states
        }
        if firstShard < secondShard {
            return shards[firstShard].state.withLock { firstState in
                shards[secondShard].state.withLock { secondState in decideAcross(&firstState, &secondState) }
            }
        }
        return shards[secondShard].state.withLock { secondState in
            shards[firstShard].state.withLock { firstState in decideAcross(&firstState, &secondState) }
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
            return decide(requests, hashes: hashes, stored: stored, mode: mode, now: now)
        }
        return shards[shard].state.withLock { state in
            let mine = hashes.filter { Self.shard(of: $0) == shard }
            var stored = stored
            for hash in mine { stored[hash] = state.table.arrival(of: hash) }
            let result = acquireLocking(
                remaining.dropFirst(), requests: requests, hashes: hashes, stored: stored, mode: mode, now: now)
            if let writes = result.writes {
                for (request, hash) in zip(requests, hashes) where Self.shard(of: hash) == shard {
                    // A bucket named twice is written twice with its final value, and its spend recorded twice.
                    record(state.commit(hash, arrival: writes[hash]!, request: request, now: now, shares: sharesBudgets))
                }
            }
            return result
        }
    }

    /// Evaluates `requests` in order, each against what the earlier ones of this call would leave,
    /// so two requests for one bucket are checked together. Returns the arrival times to write
    /// when `mode` commits, else nil.
    private func decide(
        _ requests: [BucketRequest], hashes: [UInt64], stored: [UInt64: Int64], mode: AcquireMode, now: Int64
    ) -> (states: [BucketState], writes: [UInt64: Int64]?) {
        var pending = stored
        var states = [BucketState]()
        for (request, hash) in zip(requests, hashes) {
            let terms = terms(request.scope, now: now)
            let (state, arrival) = GCRA.evaluate(
                stored: pending[hash], request: request, now: now, untracked: terms.untracked, weight: terms.weight)
            states.append(state)
            pending[hash] = Self.charged(arrival, state: state, request: request, weight: terms.weight)
        }
        return (states, Self.commits(mode, allowed: states.allSatisfy(\.allowed)) ? pending : nil)
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
    private static func charged(_ arrival: Int64, state: BucketState, request: BucketRequest, weight: Int64) -> Int64 {
        state.allowed ? arrival : arrival + request.scope.emissionInterval * Int64(request.cost) * weight
    }

    // MARK: Shared budgets

    /// What sharing changes for a bucket of `scope` (``GCRA``): what an untracked bucket holds,
    /// and what one request weighs.
    private func terms(_ scope: RateLimitScope, now: Int64) -> (untracked: Int64?, weight: Int64) {
        guard sharesBudgets, scope.shared else { return (nil, 1) }
        let servers = servers.load(ordering: .relaxed)
        if servers < 0 { return (nil, Int64(-servers)) }
        return (servers > 1 ? now + Self.othersShare(of: scope.tolerance, servers: servers) : nil, 1)
    }

    /// The part of `room` (nanoseconds of a bucket's free tolerance) left to the other servers.
    private static func othersShare(of room: Int64, servers: Int) -> Int64 {
        room / Int64(servers) * Int64(servers - 1)
    }

    private func record(_ recorded: Bool) {
        if !recorded { unrecorded.add(1, ordering: .relaxed) }
    }

    /// Spends on shared budgets that could not be kept for reconciliation because too many were
    /// waiting; they still counted here.
    package var unrecordedSpends: Int { unrecorded.load(ordering: .relaxed) }

    /// How many servers share the budgets, and whether they can be reached now. While they can,
    /// a bucket this server does not track holds `1 / servers` of a full bucket; while they
    /// cannot, every request of a shared scope costs `servers` intervals, so this server keeps to
    /// `1 / servers` of each limit (the whole limit when `servers` is 1, as it is until known).
    package func updateSharing(servers: Int, reachable: Bool) {
        let servers = max(1, servers)
        self.servers.store(reachable ? servers : -servers, ordering: .relaxed)
    }

    /// The servers last set by ``updateSharing(servers:reachable:)``, and whether they were reachable.
    package var sharing: (servers: Int, reachable: Bool) {
        let servers = servers.load(ordering: .relaxed)
        return (abs(servers), servers > 0)
    }

    /// Takes the spends on shared budgets recorded since the last call, to be sent to the other
    /// servers. Give them back with ``restoreSharedSpends(_:)`` if they could not be sent.
    package func drainSharedSpends() -> [SharedSpend] {
        var drained = [SharedSpend]()
        for shard in shards {
            let spends = shard.state.withLock { state in
                defer { state.spends.removeAll(keepingCapacity: true) }
                return Array(state.spends.values)
            }
            drained += spends
        }
        return drained
    }

    /// Puts back spends that ``drainSharedSpends()`` took and that could not be sent, so the next
    /// reconciliation sends them with the newer ones.
    package func restoreSharedSpends(_ spends: [SharedSpend]) {
        for spend in spends {
            let recorded = shards[Self.shard(of: spend.hash)].state.withLock { state in
                if let pending = state.spends[spend.hash] {
                    state.spends[spend.hash]!.cost = pending.cost + spend.cost
                    state.spends[spend.hash]!.since = min(pending.since, spend.since)
                    return true
                }
                guard state.spends.count < Self.maximumPendingPerShard else { return false }
                state.spends[spend.hash] = spend
                return true
            }
            record(recorded)
        }
    }

    /// Folds in the shared state of buckets this server sent: for each, how far the shared
    /// arrival time runs ahead of `now` (nanoseconds; negative for a full bucket), counting every
    /// server's spends that reached the table. The bucket becomes that, plus what this server spent
    /// since the drain, plus what the other servers are taken to have spent and not yet sent (as
    /// much each as this server sent: a client spread evenly spends evenly), with the other
    /// servers' share of the room left set aside (``updateSharing(servers:reachable:)``), and
    /// never less than what the bucket held here.
    package func reconcile(_ buckets: [(spend: SharedSpend, ahead: Int64)], now: Int64) {
        let servers = sharing.servers
        for (spend, ahead) in buckets {
            let scope = spend.scope
            let unsent = spend.nanoseconds * Int64(servers - 1)
            shards[Self.shard(of: spend.hash)].state.withLock { state in
                let since = Int64(state.spends[spend.hash]?.cost ?? 0) * scope.emissionInterval
                let shared = max(now + ahead, now) + since + unsent
                let room = now + scope.tolerance - shared
                let estimate = room > 0 ? shared + Self.othersShare(of: room, servers: servers) : shared
                // Never looser than what this server already holds: the estimate of the others'
                // unsent spends (as much as this server sent) falls short when a burst reaches
                // the servers unevenly in time, and a burst that spans several reconciliations
                // was admitted up to 11 % over the limit that way (scale_out.py's burst check).
                let arrival = max(estimate, state.table.arrival(of: spend.hash) ?? .min)
                state.table.store(spend.hash, arrival: arrival, now: now)
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
