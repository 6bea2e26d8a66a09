/// One agent launched by `agenthost run`, as the store keeps it: who, running what, since when,
/// how it ended. Its id is the token id of its lease; the lease itself is never stored (it proves
/// itself, as a browser session's cookie does).
public struct RunRecord: Hashable, Sendable, CustomStringConvertible {
    /// The run's id: its lease's token id. Not a secret.
    public let id: TokenID
    /// The agent the lease acts as.
    public let agent: AgentID
    /// The lease's role.
    public let role: Role
    /// The lease's team (possibly empty).
    public let team: Team
    /// The program's name (the last component of the command's path), never its arguments,
    /// which may hold anything.
    public let command: String
    /// Who started it (the launcher's principal id).
    public let startedBy: String
    /// The upstreams the lease may call through `/proxy/`.
    public let upstreams: [String]
    /// The hosts the agent may reach through `CONNECT` besides its upstreams, as `host:port`.
    public let allowedHosts: [String]
    /// How the command is confined: `none` or `bwrap`.
    public let sandbox: String
    /// The run whose lease asked for this one's (a sub-agent), if any.
    public let parent: TokenID?
    /// When it began, in Unix seconds.
    public let startedAt: Int64
    /// When its launcher last renewed the lease, in Unix seconds, as far as the store knows.
    public let renewedAt: Int64
    /// When the lease ends whatever happens (the run's longest life), in Unix seconds.
    public let expiresAt: Int64
    /// When it ended (the command exited, or an admin ended it), or `nil`.
    public let endedAt: Int64?
    /// How the command exited: its exit code, or 128 + the signal that killed it; `nil` when it
    /// did not end through its launcher.
    public let exitStatus: Int?

    /// The longest ``command`` kept.
    public static let maximumCommandLength = 128

    public init(
        id: TokenID, agent: AgentID, role: Role, team: Team, command: String, startedBy: String, upstreams: [String],
        allowedHosts: [String], sandbox: String, parent: TokenID? = nil, startedAt: Int64, renewedAt: Int64, expiresAt: Int64,
        endedAt: Int64? = nil, exitStatus: Int? = nil
    ) {
        self.id = id
        self.agent = agent
        self.role = role
        self.team = team
        self.command = String(command.prefix(Self.maximumCommandLength))
        self.startedBy = startedBy
        self.upstreams = upstreams
        self.allowedHosts = allowedHosts
        self.sandbox = sandbox
        self.parent = parent
        self.startedAt = startedAt
        self.renewedAt = renewedAt
        self.expiresAt = expiresAt
        self.endedAt = endedAt
        self.exitStatus = exitStatus
    }

    /// Where a run stands at a moment.
    public enum State: String, Hashable, Sendable {
        /// Its lease is live.
        case running
        /// It ended through its launcher or an admin; its lease is revoked.
        case ended
        /// Its launcher stopped renewing it (killed, or cut off) and the lease lapsed.
        case lapsed
        /// It reached its longest life.
        case expired
    }

    /// The run's state at `now` when a lease lapses `leaseTTL` seconds after its last renewal.
    /// Times are whole seconds, the renewal's rounded down: a lease lapses at most `leaseTTL`
    /// seconds after it was renewed, never later.
    public func state(at now: Int64, leaseTTL: Int64) -> State {
        if endedAt != nil { return .ended }
        if now >= expiresAt { return .expired }
        if now - renewedAt >= leaseTTL { return .lapsed }
        return .running
    }

    public var description: String { "RunRecord(\(id), \(agent), \(command))" }
}

/// Where runs live. SecurityStore implements it over SQLite and PostgreSQL; every server sharing
/// the store knows every run, and so every lease.
public protocol RunStore: Sendable {
    /// Records a run that just began.
    func createRun(_ run: RunRecord) async throws
    /// The run `id`, if kept.
    func run(id: TokenID) async throws -> RunRecord?
    /// The newest `limit` runs, of `agent` only when given, newest first.
    func runs(agent: AgentID?, limit: Int) async throws -> [RunRecord]
    /// The runs that have not ended and whose lease has not expired at `now`: what each server
    /// keeps in memory to judge leases.
    func openRuns(now: Int64) async throws -> [RunRecord]
    /// Ends run `id` at `now` with `exitStatus`; the run as it now is, or `nil` if unknown. A run
    /// that already ended keeps its first end.
    func endRun(id: TokenID, at now: Int64, exitStatus: Int?) async throws -> RunRecord?
    /// Moves each run's renewal time forward to the time given (never back).
    func recordRenewals(_ renewedAt: [TokenID: Int64]) async throws
}
