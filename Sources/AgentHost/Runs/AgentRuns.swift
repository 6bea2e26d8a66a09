public import SecurityCore
import Synchronization

/// The agents launched by `agenthost run` (Docs/RUN.md): each run's lease, begun, renewed and
/// ended here, kept in the store every server shares.
///
/// A lease is an agent token under the lease audience whose run must be open on this server's
/// books and renewed by its launcher within ``leaseTTL`` seconds. The request path reads only
/// memory; ``sync()`` brings in every server's runs and renewals. Ending a
/// run revokes its lease's token id, which reaches every server through the revocation path at
/// once (PostgreSQL's LISTEN/NOTIFY) or at its next refresh.
public final class AgentRuns: Sendable {
    /// Where runs are recorded.
    public let store: any RunStore
    /// Seconds a lease lives past its launcher's last renewal: 30. A launcher renews every
    /// ``renewalInterval`` (10 s), so two renewals may fail before the lease lapses, and a lease
    /// whose launcher was killed is refused at most 30 s after its last renewal (plus the
    /// servers' clock skew) on every server: whole seconds, the renewal's rounded down.
    public let leaseTTL: Int64
    let revocations: InMemoryRevocationList
    let revocationStore: (any RevocationStore)?
    let clock: any TimeSource
    /// The runs not ended that this server knows, with their newest renewal.
    private let open = Mutex<[TokenID: RunRecord]>([:])

    /// The lease's life past a renewal when none is given: 30 seconds.
    public static let defaultLeaseTTL: Int64 = 30

    public init(
        store: any RunStore, revocations: InMemoryRevocationList, revocationStore: (any RevocationStore)?, clock: any TimeSource,
        leaseTTL: Int64 = AgentRuns.defaultLeaseTTL
    ) {
        self.store = store
        self.revocations = revocations
        self.revocationStore = revocationStore
        self.clock = clock
        self.leaseTTL = max(3, leaseTTL)
    }

    /// How often a launcher renews its lease: a third of ``leaseTTL``.
    public var renewalInterval: Int64 { max(1, leaseTTL / 3) }

    /// Where a lease stands on this server.
    enum Standing: Equatable {
        /// Its run is open and was renewed within the TTL.
        case live(RunRecord)
        /// No open run of this server's knows it: it ended, or began on another server that has
        /// not announced it yet.
        case unknown
        /// Its launcher stopped renewing it.
        case lapsed
    }

    /// Where the lease of token `id` stands now. A sub-agent's stands only while every run above
    /// it does too.
    func standing(of id: TokenID) -> Standing {
        let now = clock.now()
        return open.withLock { runs in
            guard let run = runs[id] else { return .unknown }
            var current = run
            for _ in 0...Self.maximumDepth {
                guard now - current.renewedAt < leaseTTL else { return .lapsed }
                guard let parent = current.parent else { return .live(run) }
                guard let above = runs[parent] else { return .unknown }
                current = above
            }
            return .unknown
        }
    }

    /// How many runs deep sub-agents may go below a launched one.
    static let maximumDepth = 4

    /// How many runs are above `run` (0 for a launched one), as this server knows them.
    func depth(of run: RunRecord) -> Int {
        open.withLock { runs in
            var depth = 0
            var current = run
            while let parent = current.parent, let above = runs[parent], depth <= Self.maximumDepth {
                depth += 1
                current = above
            }
            return depth
        }
    }

    /// The run's name with the runs above it: `builder-7` for a launched agent, then each
    /// sub-agent's name (`builder-7/tests-1`).
    func chain(of run: RunRecord) -> String {
        open.withLock { runs in
            var names: [String] = []
            var current = run
            while let parent = current.parent, names.count <= Self.maximumDepth {
                names.append(current.command)
                guard let above = runs[parent] else { break }
                current = above
            }
            return ([current.agent.rawValue] + names.reversed()).joined(separator: "/")
        }
    }

    /// The open runs below run `id`, at any depth.
    private func descendants(of id: TokenID) -> [RunRecord] {
        open.withLock { runs in
            var found: [RunRecord] = []
            var frontier: Set<TokenID> = [id]
            for _ in 0...Self.maximumDepth where !frontier.isEmpty {
                let next = runs.values.filter { $0.parent.map(frontier.contains) == true }
                found += next
                frontier = Set(next.map(\.id))
            }
            return found
        }
    }

    /// Begins a run: mints its lease with `minter` (the lease audience) for `lifetime`, records the
    /// run, and knows it here at once.
    func start(
        agent: AgentID, role: Role, team: Team, command: String, startedBy: String, upstreams: [String], allowedHosts: [String],
        sandbox: String, parent: TokenID?, lifetime: Duration?, minter: TokenMinter
    ) async throws -> (lease: MintedToken, run: RunRecord) {
        let lease = try minter.mint(agent: agent, role: role, team: team, lifetime: lifetime)
        let claims = lease.claims
        let run = RunRecord(
            id: claims.tokenID, agent: agent, role: role, team: team, command: command, startedBy: startedBy, upstreams: upstreams,
            allowedHosts: allowedHosts, sandbox: sandbox, parent: parent, startedAt: claims.issuedAt, renewedAt: claims.issuedAt,
            expiresAt: claims.expiresAt)
        try await store.createRun(run)
        open.withLock { $0[run.id] = run }
        return (lease, run)
    }

    /// Renews the lease of run `id` from now: the run as it now stands, or `nil` when it is not
    /// known. A run that ended, lapsed or expired is not renewed: a lapsed lease stays lapsed.
    func renew(_ id: TokenID) async throws -> RunRecord? {
        let now = clock.now()
        guard let run = try await record(id) else { return nil }
        guard run.state(at: now, leaseTTL: leaseTTL) == .running else { return run }
        // Its sub-agents live as long as it does.
        let below = descendants(of: id)
        try await store.recordRenewals(Dictionary(uniqueKeysWithValues: ([run] + below).map { ($0.id, now) }))
        let renewed = run.renewed(at: now)
        open.withLock { runs in
            for record in [run] + below where (runs[record.id]?.renewedAt ?? .min) < now { runs[record.id] = record.renewed(at: now) }
        }
        return renewed
    }

    /// Ends run `id` with `exitStatus`, and its sub-agents' runs with it: records the ends and
    /// revokes the leases everywhere. The run as it now is, or `nil` when unknown. Ending a run
    /// twice keeps the first end.
    func end(_ id: TokenID, exitStatus: Int?) async throws -> RunRecord? {
        let now = clock.now()
        for child in descendants(of: id) { _ = try await endOne(child.id, exitStatus: nil, at: now) }
        return try await endOne(id, exitStatus: exitStatus, at: now)
    }

    private func endOne(_ id: TokenID, exitStatus: Int?, at now: Int64) async throws -> RunRecord? {
        guard let ended = try await store.endRun(id: id, at: now, exitStatus: exitStatus) else { return nil }
        // Here at once; everywhere else through the store's announcement.
        revocations.revoke(tokenID: id, expiresAt: ended.expiresAt)
        open.withLock { $0[id] = nil }
        try await revocationStore?.recordRevocation(tokenID: id, expiresAt: ended.expiresAt, at: now)
        return ended
    }

    /// The run `id` as the store has it, with a renewal this server saw that the store does not
    /// show yet.
    func record(_ id: TokenID) async throws -> RunRecord? {
        guard let stored = try await store.run(id: id) else { return nil }
        return newest(stored)
    }

    /// The newest `limit` runs, of `agent` only when given, newest first.
    func list(agent: AgentID?, limit: Int) async throws -> [RunRecord] {
        try await store.runs(agent: agent, limit: limit).map(newest)
    }

    private func newest(_ stored: RunRecord) -> RunRecord {
        guard let known = open.withLock({ $0[stored.id] }), known.renewedAt > stored.renewedAt, stored.endedAt == nil else { return stored }
        return stored.renewed(at: known.renewedAt)
    }

    /// Takes in every open run from the store, so leases begun, renewed or ended through another
    /// server count here. A renewal this server saw and the store does not show yet is kept.
    public func sync() async throws {
        let readAt = clock.now()
        let stored = try await store.openRuns(now: readAt)
        open.withLock { runs in
            var next = [TokenID: RunRecord](minimumCapacity: stored.count)
            // Begun here while the store was being read: not in what it gave.
            for run in runs.values where run.startedAt >= readAt { next[run.id] = run }
            for run in stored {
                if let known = runs[run.id], known.renewedAt > run.renewedAt {
                    next[run.id] = run.renewed(at: known.renewedAt)
                } else {
                    next[run.id] = run
                }
            }
            runs = next
        }
    }
}

extension RunRecord {
    /// The same run, renewed at `time`.
    func renewed(at time: Int64) -> RunRecord {
        RunRecord(
            id: id, agent: agent, role: role, team: team, command: command, startedBy: startedBy, upstreams: upstreams,
            allowedHosts: allowedHosts, sandbox: sandbox, parent: parent, startedAt: startedAt, renewedAt: time, expiresAt: expiresAt,
            endedAt: endedAt, exitStatus: exitStatus)
    }
}
