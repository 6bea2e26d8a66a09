import Foundation
import Hummingbird
import Logging
import SecurityCore
import SecurityStore
import Synchronization

/// The runs of `agenthost run` (Docs/RUN.md): a launcher starts a run and receives its agent's
/// lease, renews the lease while the command runs, and ends the run when it exits, which revokes
/// the lease on every server. Operators list runs.
///
/// - `POST /api/runs`: starts a run, `201` with the lease and, per upstream, the variables the
///   agent's clients read;
/// - `POST /api/runs/{run}/renew`: `200`, or `409 run_ended` once the run ended or lapsed;
/// - `POST /api/runs/{run}/end` with `{"exit_status": N}`: `200` with the run;
/// - `GET /api/runs[?agent=ID&limit=N]` (newest first), `GET /api/runs/{run}`.
///
/// Starting, renewing and ending need a credential that may issue credentials (an agent token or
/// a user session, never a lease: a launched agent cannot start a run that would outlive its own)
/// and a role that may grant the lease's role.
struct RunRoutes: Sendable {
    let components: AgentHost.Components
    let startSchema: Schema
    let endSchema: Schema = .object(["exit_status": .optional(.integer(0...255))])
    let childSchema: Schema

    init(components: AgentHost.Components) {
        self.components = components
        let name = Schema.string(format: .identifier)
        startSchema = .object([
            "agent_id": .required(name),
            "role": .required(name),
            "team": .optional(.string(length: 0...128, pattern: try? Schema.Pattern("[A-Za-z0-9_-]*"))),
            "command": .required(.string(length: 1...RunRecord.maximumCommandLength)),
            "upstreams": .optional(.array(of: .string(length: 1...64), count: 0...64)),
            "allow_hosts": .optional(.array(of: .string(length: 1...262), count: 0...64)),
            "sandbox": .optional(.string(oneOf: ["none", "bwrap"])),
            "ttl": .optional(.duration(1...components.minter.policy.maximumLifetime)),
        ])
        childSchema = .object([
            "name": .required(name),
            "role": .optional(name),
            "upstreams": .optional(.array(of: .string(length: 1...64), count: 0...64)),
            "allow_hosts": .optional(.array(of: .string(length: 1...262), count: 0...64)),
            "ttl": .optional(.duration(1...components.minter.policy.maximumLifetime)),
        ])
    }

    func add(to router: Router<AgentRequestContext>) {
        router.post("/api/runs") { request, context in try await start(request, context: context) }
        router.get("/api/runs") { request, context in
            try await withRuns(context) { runs in
                let agent = try request.uri.queryParameters["agent"].map { value in
                    guard let agent = try? AgentID(String(value)) else {
                        throw HTTPRefusal(400, .invalidName, "The agent id must be 1-128 of A-Z a-z 0-9 _ -.")
                    }
                    return agent
                }
                guard let page = Paging.parse(request.uri.queryParameters) else { throw Paging.refusal("a number from 0 (it is ignored)") }
                let listed = try await runs.list(agent: agent, limit: page.limit)
                return JSONBody.response(.object(["runs": .array(listed.map { json($0, runs: runs) })]))
            }
        }
        router.get("/api/runs/{run}") { _, context in
            try await withRuns(context) { runs in
                guard let run = try await runs.record(try Self.runID(context)) else { throw Self.unknownRun }
                return JSONBody.response(json(run, runs: runs))
            }
        }
        router.post("/api/runs/{run}/renew") { _, context in
            try await withRuns(context) { runs in
                try Self.checkLauncher(context)
                guard let run = try await runs.renew(try Self.runID(context)) else { throw Self.unknownRun }
                let state = run.state(at: components.clock.now(), leaseTTL: runs.leaseTTL)
                guard state == .running else {
                    throw HTTPRefusal(
                        status: 409, code: .runEnded, detail: "The run is \(state.rawValue); its lease cannot be renewed.",
                        extensions: ["state": .string(state.rawValue)])
                }
                return JSONBody.response(json(run, runs: runs))
            }
        }
        router.post("/api/runs/{run}/children") { request, context in try await delegate(request, context: context) }
        router.post("/api/runs/{run}/end") { request, context in
            try await withRuns(context) { runs in
                try Self.checkLauncher(context)
                let value = try await JSONBody.read(request, schema: endSchema)
                let exitStatus = value["exit_status"]?.integerValue.map { Int($0) }
                guard let run = try await runs.end(try Self.runID(context), exitStatus: exitStatus) else { throw Self.unknownRun }
                let caller = context.principal?.id ?? "-"
                context.logger.notice(
                    "ended run", metadata: ["run": .string(run.id.hex), "agent": .string(run.agent.rawValue), "by": .string(caller)])
                components.audit(
                    context.id, "run.ended", actor: caller, target: run.agent.rawValue,
                    details: [
                        "run": run.id.hex, "command": run.command, "exit_status": run.exitStatus.map(String.init) ?? "-",
                        "seconds": "\((run.endedAt ?? run.startedAt) - run.startedAt)",
                    ])
                return JSONBody.response(json(run, runs: runs))
            }
        }
    }

    // MARK: Start

    private func start(_ request: Request, context: AgentRequestContext) async throws -> Response {
        try await withRuns(context) { runs in
            let caller = try Self.checkLauncher(context)
            let value = try await JSONBody.read(request, schema: startSchema)
            let role = value["role"]?.stringValue ?? ""
            guard components.policy.mayGrant(role, caller: caller.role.rawValue) else {
                throw HTTPRefusal(403, .roleAboveCaller, "A run's lease may not have a role that ranks above the caller's own.")
            }
            guard let agent = try? AgentID(value["agent_id"]?.stringValue ?? ""), let leaseRole = try? Role(role),
                let team = try? Team(value["team"]?.stringValue ?? "")
            else {
                throw HTTPRefusal(400, .invalidIdentity, "agent_id, role and team must be 1-128 of A-Z a-z 0-9 _ - (team may be empty).")
            }
            let upstreams = try await upstreams(for: agent, asked: value["upstreams"]?.arrayValue?.compactMap(\.stringValue))
            let hosts = try (value["allow_hosts"]?.arrayValue ?? []).compactMap(\.stringValue).map(Self.allowedHost)
            let connectPort = components.connectPort.withLock { $0 }
            guard hosts.isEmpty || connectPort != nil else {
                throw HTTPRefusal(
                    400, .invalidRequest, "This server opens no CONNECT proxy (connect_port), so a run cannot be allowed other hosts.")
            }
            let command = (value["command"]?.stringValue ?? "").split(separator: "/").last.map(String.init) ?? ""
            let sandbox = value["sandbox"]?.stringValue ?? "none"
            let lifetime = Schema.durationSeconds(value["ttl"]).map { Duration.seconds($0) }
            let started: (lease: MintedToken, run: RunRecord)
            do {
                started = try await runs.start(
                    agent: agent, role: leaseRole, team: team, command: command, startedBy: caller.id, upstreams: upstreams.map(\.name),
                    allowedHosts: hosts, sandbox: sandbox, parent: nil, lifetime: lifetime, minter: components.leaseMinter)
            } catch let error as TokenError where error.code == .noSigningKey {
                throw HTTPRefusal(
                    503, .noSigningKey,
                    "The server's keyring has no primary key, so it cannot mint leases; an operator must run 'agenthost keys rotate'.")
            }
            let run = started.run
            context.logger.notice(
                "started run",
                metadata: [
                    "run": .string(run.id.hex), "agent": .string(agent.rawValue), "role": .string(role), "command": .string(command),
                    "by": .string(caller.id),
                ])
            components.audit(
                context.id, "run.started", actor: caller.id, target: agent.rawValue,
                details: [
                    "run": run.id.hex, "role": role, "command": command, "upstreams": run.upstreams.joined(separator: " "),
                    "allow_hosts": hosts.joined(separator: " "), "sandbox": sandbox,
                ])
            return try launchReply(run, lease: started.lease, runs: runs, upstreams: upstreams)
        }
    }

    // MARK: Sub-agents

    /// `POST /api/runs/{run}/children`: the run's own lease asks for a sub-agent's, never wider
    /// than its own: a subset of its upstreams and allowed hosts, the same role or a lower one, a
    /// life within its own. It acts as the same agent, lives while its parent does (renewed with
    /// it) and ends with it.
    private func delegate(_ request: Request, context: AgentRequestContext) async throws -> Response {
        try await withRuns(context) { runs in
            let runID = try Self.runID(context)
            guard case .lease(let claims)? = context.principal?.subject, claims.tokenID == runID,
                case .live(let parent) = runs.standing(of: runID)
            else {
                throw HTTPRefusal(403, .tokenRequired, "Only the run's own lease asks for a sub-agent's lease.")
            }
            let value = try await JSONBody.read(request, schema: childSchema)
            let now = components.clock.now()
            let role = value["role"]?.stringValue ?? parent.role.rawValue
            let upstreams = value["upstreams"]?.arrayValue?.compactMap(\.stringValue) ?? parent.upstreams
            let hosts = try value["allow_hosts"]?.arrayValue?.compactMap(\.stringValue).map(Self.allowedHost) ?? parent.allowedHosts
            let lifetime = Schema.durationSeconds(value["ttl"]) ?? (parent.expiresAt - now)
            var exceeded: [String: JSONValue] = [:]
            let policy = components.policy
            if role != parent.role.rawValue {
                let narrower = policy.rank(of: role).flatMap { wanted in policy.rank(of: parent.role.rawValue).map { wanted <= $0 } }
                if narrower != true { exceeded["role"] = .string(role) }
            }
            let extraUpstreams = upstreams.filter { !parent.upstreams.contains($0) }
            if !extraUpstreams.isEmpty { exceeded["upstreams"] = .array(extraUpstreams.map { .string($0) }) }
            let extraHosts = hosts.filter { !parent.allowedHosts.contains($0) }
            if !extraHosts.isEmpty { exceeded["allow_hosts"] = .array(extraHosts.map { .string($0) }) }
            if now + lifetime > parent.expiresAt { exceeded["ttl"] = .integer(lifetime) }
            if runs.depth(of: parent) >= AgentRuns.maximumDepth { exceeded["depth"] = .integer(Int64(AgentRuns.maximumDepth)) }
            guard exceeded.isEmpty else {
                throw HTTPRefusal(
                    status: 403, code: .forbidden,
                    detail: "A sub-agent's lease may not be wider than its parent's: \(exceeded.keys.sorted().joined(separator: ", ")).",
                    extensions: ["exceeded": .object(exceeded)])
            }
            let name = value["name"]?.stringValue ?? ""
            let started: (lease: MintedToken, run: RunRecord)
            do {
                started = try await runs.start(
                    agent: parent.agent, role: try Role(role), team: parent.team, command: name, startedBy: runs.chain(of: parent),
                    upstreams: upstreams, allowedHosts: hosts, sandbox: parent.sandbox, parent: parent.id,
                    lifetime: .seconds(max(1, lifetime)), minter: components.leaseMinter)
            } catch let error as TokenError where error.code == .noSigningKey {
                throw HTTPRefusal(503, .noSigningKey, "The server's keyring has no primary key, so it cannot mint leases.")
            }
            let run = started.run
            let chain = runs.chain(of: run)
            context.logger.notice("started sub-agent", metadata: ["run": .string(run.id.hex), "chain": .string(chain)])
            components.audit(
                context.id, "run.started", actor: runs.chain(of: parent), target: chain,
                details: [
                    "run": run.id.hex, "parent": parent.id.hex, "role": role, "upstreams": upstreams.joined(separator: " "),
                    "allow_hosts": hosts.joined(separator: " "),
                ])
            let configured = components.configuration.upstreams
            return try launchReply(
                run, lease: started.lease, runs: runs, upstreams: upstreams.compactMap { name in configured.first { $0.name == name } })
        }
    }

    /// `201` with the run, its lease, and what a launcher sets for each of `upstreams`.
    private func launchReply(_ run: RunRecord, lease: MintedToken, runs: AgentRuns, upstreams: [Upstream]) throws -> Response {
        var reply = json(run, runs: runs)
        if case .object(var members) = reply {
            members["lease"] = .string(lease.token)
            members["lease_ttl_seconds"] = .integer(runs.leaseTTL)
            // A sub-agent's lease is renewed with its parent's.
            members["renew_every_seconds"] = .integer(run.parent == nil ? runs.renewalInterval : 0)
            members["upstreams"] = .array(upstreams.map(Self.launchEntry))
            members["connect_port"] = components.connectPort.withLock { $0 }.map { .integer(Int64($0)) } ?? .null
            reply = .object(members)
        }
        var response = JSONBody.response(reply, status: .created)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The upstreams the run may call: those asked for (each must exist and be granted to the
    /// agent), or every upstream whose grant the agent holds.
    private func upstreams(for agent: AgentID, asked: [String]?) async throws -> [Upstream] {
        let configured = components.configuration.upstreams
        guard !configured.isEmpty || !(asked ?? []).isEmpty else { return [] }
        guard let credentials = components.credentials else {
            throw HTTPRefusal(503, .vaultUnavailable, "This server was started without a credential store.")
        }
        let granted = Set(try await credentials.store.grants(agent: agent.rawValue).map(\.env))
        guard let asked else { return configured.filter { granted.contains($0.grant) } }
        return try asked.map { name in
            guard let upstream = configured.first(where: { $0.name == name }) else {
                throw HTTPRefusal(400, .unknownUpstream, "No upstream is configured under the name \(name.prefix(64)).")
            }
            guard granted.contains(upstream.grant) else {
                throw HTTPRefusal(
                    status: 403, code: .noGrant,
                    detail: "Agent \(agent) holds no grant of \(upstream.grant), which upstream \(name) injects.",
                    extensions: ["upstream": .string(name), "grant": .string(upstream.grant)])
            }
            return upstream
        }
    }

    /// What a launcher needs of an upstream: its name, the variables to set, and whether git
    /// gets a credential helper for it.
    static func launchEntry(_ upstream: Upstream) -> JSONValue {
        var git = false
        if case .basic = upstream.injection { git = true }
        return .object([
            "name": .string(upstream.name), "path": .string(ProxyRoutes.prefix(upstream.name)),
            "environment": .object(upstream.environment.mapValues { .string($0) }), "git": .bool(git),
        ])
    }

    /// `host:port`, or `host` meaning port 443 (``HostPort``), lower-cased.
    static func allowedHost(_ text: String) throws -> String {
        guard let hostPort = HostPort(text, defaultPort: 443) else {
            throw HTTPRefusal(
                400, .invalidRequest, "allow_hosts: '\(text.prefix(64))' is not host[:port], such as pypi.org or 127.0.0.1:8443.")
        }
        return hostPort.description
    }

    // MARK: Helpers

    /// The run as JSON, its state worked out now.
    func json(_ run: RunRecord, runs: AgentRuns) -> JSONValue {
        func time(_ seconds: Int64?) -> JSONValue { seconds.map { .string(UTCTimestamp.string(seconds: $0)) } ?? .null }
        return .object([
            "run_id": .string(run.id.hex), "agent_id": .string(run.agent.rawValue), "role": .string(run.role.rawValue),
            "team": .string(run.team.rawValue), "command": .string(run.command), "started_by": .string(run.startedBy),
            "upstream_names": .array(run.upstreams.map { .string($0) }), "allow_hosts": .array(run.allowedHosts.map { .string($0) }),
            "sandbox": .string(run.sandbox), "parent": run.parent.map { .string($0.hex) } ?? .null,
            "state": .string(run.state(at: components.clock.now(), leaseTTL: runs.leaseTTL).rawValue),
            "started_at": time(run.startedAt), "renewed_at": time(run.renewedAt), "expires_at": time(run.expiresAt),
            "ended_at": time(run.endedAt), "exit_status": run.exitStatus.map { .integer(Int64($0)) } ?? .null,
        ])
    }

    /// Runs `body` with the runs, turning store failures into `503`.
    private func withRuns(_ context: AgentRequestContext, _ body: (AgentRuns) async throws -> Response) async throws -> Response {
        guard let runs = components.runs else {
            throw HTTPRefusal(503, .storeUnavailable, "This server was started without a store, so it keeps no runs.")
        }
        do {
            return try await body(runs)
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }

    /// The caller, when it may start, renew and end runs: proven by an agent token or a user
    /// session. A lease may not: a launched agent must not keep its own lease alive, or start a
    /// run that outlives it.
    @discardableResult
    static func checkLauncher(_ context: AgentRequestContext) throws -> Principal {
        guard let caller = context.principal, caller.mayIssueCredentials else {
            throw HTTPRefusal(
                403, .tokenRequired,
                "Starting, renewing and ending runs needs an agent token or a user session; not a lease, header-trust identity, API key or device."
            )
        }
        return caller
    }

    static func runID(_ context: AgentRequestContext) throws -> TokenID {
        guard let id = TokenID(hex: context.parameters.get("run") ?? "") else { throw unknownRun }
        return id
    }

    static let unknownRun = HTTPRefusal(404, .notFound, "There is no such run.")
}
