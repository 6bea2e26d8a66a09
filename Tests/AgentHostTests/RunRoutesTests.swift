import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
import SecurityStore
import Synchronization
import Testing

@testable import AgentHost

/// The run routes and leases (`agenthost run`'s server side), on 127.0.0.1 with a fake upstream
/// and a manual clock.
@Suite(.timeLimit(.minutes(2)))
struct RunRoutesTests {
    typealias Setup = ProxyTests.Setup

    static func admin(_ setup: Setup) throws -> HTTPFields {
        ProxyTests.bearer(try setup.fixture.token(agent: "ops", role: "admin").token)
    }

    static func jsonHeaders(_ headers: HTTPFields) -> HTTPFields {
        var headers = headers
        headers[.contentType] = "application/json"
        return headers
    }

    /// Starts a run of `builder-7` with `body` (agent and command added), as an admin: the reply.
    static func start(
        _ setup: Setup, _ client: any TestClientProtocol, _ body: [String: Any] = [:], status: HTTPResponse.Status = .created
    ) async throws -> [String: Any] {
        var fields: [String: Any] = ["agent_id": "builder-7", "role": "developer", "command": "/usr/bin/claude"]
        fields.merge(body) { _, new in new }
        let response = try await client.execute(
            uri: "/api/runs", method: .post, headers: jsonHeaders(try admin(setup)),
            body: ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: fields))))
        #expect(response.status == status, "\(String(buffer: response.body))")
        return try json(response.body)
    }

    static func whoami(_ lease: String, _ client: any TestClientProtocol) async throws -> TestResponse {
        try await client.execute(uri: "/api/whoami", method: .get, headers: ProxyTests.bearer(lease))
    }

    @Test func aLeaseActsAsItsAgentOnlyWhileItsRunIsOpen() async throws {
        try await ProxyTests.withProxy { setup, client in
            let started = try await Self.start(setup, client)
            let lease = try #require(started["lease"] as? String)
            let runID = try #require(started["run_id"] as? String)
            #expect(started["command"] as? String == "claude", "the program's name, never its path or arguments")
            #expect(started["state"] as? String == "running")
            #expect(started["lease_ttl_seconds"] as? Int == 30)
            #expect(started["renew_every_seconds"] as? Int == 10)

            let who = try await Self.whoami(lease, client)
            #expect(who.status == .ok)
            let body = try json(who.body)
            #expect(body["agent_id"] as? String == "builder-7")
            #expect(body["authenticated_by"] as? String == "lease")
            #expect(body["token_id"] as? String == runID)

            // Ended: revoked here at once, and the run says how it ended.
            let end = try await client.execute(
                uri: "/api/runs/\(runID)/end", method: .post, headers: Self.jsonHeaders(try Self.admin(setup)),
                body: ByteBuffer(string: #"{"exit_status": 3}"#))
            #expect(end.status == .ok)
            let ended = try json(end.body)
            #expect(ended["state"] as? String == "ended")
            #expect(ended["exit_status"] as? Int == 3)
            let refused = try await Self.whoami(lease, client)
            #expect(refused.status == .unauthorized)
            #expect(ProxyTests.problemCode(refused) == "token_revoked")
            // Ending again keeps the first end.
            let again = try await client.execute(
                uri: "/api/runs/\(runID)/end", method: .post, headers: Self.jsonHeaders(try Self.admin(setup)),
                body: ByteBuffer(string: #"{"exit_status": 0}"#))
            #expect(try json(again.body)["exit_status"] as? Int == 3)
            let renew = try await client.execute(uri: "/api/runs/\(runID)/renew", method: .post, headers: try Self.admin(setup))
            #expect(renew.status == .conflict)
            #expect(ProxyTests.problemCode(renew) == "run_ended")
        }
    }

    @Test func aLeaseLapsesUnlessItsLauncherRenewsItAndTheAgentsOwnCallsDoNot() async throws {
        try await ProxyTests.withProxy { setup, client in
            let clock = setup.fixture.clock
            let started = try await Self.start(setup, client)
            let lease = try #require(started["lease"] as? String)
            let runID = try #require(started["run_id"] as? String)
            // The agent keeps calling; only the renewals keep the lease.
            for _ in 0..<3 {
                clock.advance(by: 10)
                #expect(try await Self.whoami(lease, client).status == .ok)
                let renew = try await client.execute(uri: "/api/runs/\(runID)/renew", method: .post, headers: try Self.admin(setup))
                #expect(renew.status == .ok)
            }
            clock.advance(by: 29)
            #expect(try await Self.whoami(lease, client).status == .ok, "29 s after the last renewal it still holds")
            clock.advance(by: 1)
            let lapsed = try await Self.whoami(lease, client)
            #expect(lapsed.status == .unauthorized)
            #expect(ProxyTests.problemCode(lapsed) == "token_expired")
            // A lapsed lease stays lapsed.
            let renew = try await client.execute(uri: "/api/runs/\(runID)/renew", method: .post, headers: try Self.admin(setup))
            #expect(renew.status == .conflict)
            #expect(try json(renew.body)["state"] as? String == "lapsed")
            let listed = try await client.execute(uri: "/api/runs?agent=builder-7", method: .get, headers: try Self.admin(setup))
            let runs = try #require(try json(listed.body)["runs"] as? [[String: Any]])
            #expect(runs.map { $0["state"] as? String } == ["lapsed"])
        }
    }

    @Test func aLeaseCannotMintRevokeOrLaunchAndAPlainTokenIsNotALease() async throws {
        try await ProxyTests.withProxy { setup, client in
            // An admin's lease: its role would allow all three, its kind does not.
            let started = try await Self.start(setup, client, ["agent_id": "orchestrator", "role": "admin"])
            let lease = ProxyTests.bearer(try #require(started["lease"] as? String))
            let mint = try await client.execute(
                uri: "/api/agents", method: .post, headers: Self.jsonHeaders(lease),
                body: ByteBuffer(string: #"{"agent_id": "x", "role": "viewer"}"#))
            #expect(mint.status == .forbidden)
            #expect(ProxyTests.problemCode(mint) == "token_required")
            let launch = try await client.execute(
                uri: "/api/runs", method: .post, headers: Self.jsonHeaders(lease),
                body: ByteBuffer(string: #"{"agent_id": "x", "role": "viewer", "command": "sh"}"#))
            #expect(ProxyTests.problemCode(launch) == "token_required")
            let renew = try await client.execute(
                uri: "/api/runs/\(try #require(started["run_id"] as? String))/renew", method: .post, headers: lease)
            #expect(ProxyTests.problemCode(renew) == "token_required", "a launched agent cannot keep its own lease alive")
            // Nor does it release a secret, even one its agent may fetch: its only secret is the lease.
            let release = try await client.execute(uri: "/v1/secrets/agents/orchestrator/env", method: .get, headers: lease)
            #expect(release.status == .forbidden)
            #expect(ProxyTests.problemCode(release) == "proxy_only")
        }
    }

    @Test func aRunCallsOnlyItsUpstreamsAndGetsTheirVariables() async throws {
        try await ProxyTests.withProxy { setup, client in
            let started = try await Self.start(setup, client, ["upstreams": ["fake", "git"]])
            let lease = try #require(started["lease"] as? String)
            let upstreams = try #require(started["upstreams"] as? [[String: Any]])
            #expect(upstreams.map { $0["name"] as? String } == ["fake", "git"])
            #expect(upstreams.map { $0["git"] as? Bool } == [false, true])
            #expect(upstreams.first?["path"] as? String == "/proxy/fake/")

            let allowed = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: ProxyTests.bearer(lease))
            #expect(allowed.status == .ok)
            let other = try await client.execute(uri: "/proxy/impatient/v1/slow", method: .get, headers: ProxyTests.bearer(lease))
            #expect(other.status == .forbidden)
            #expect(ProxyTests.problemCode(other) == "not_allowed")

            // Without a list: every upstream the agent is granted.
            let every = try await Self.start(setup, client)
            #expect((every["upstreams"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["fake", "impatient", "git"])
        }
    }

    @Test func aRunIsRefusedWhatItMayNotHave() async throws {
        try await ProxyTests.withProxy { setup, client in
            let unknown = try await Self.start(setup, client, ["upstreams": ["nowhere"]], status: .badRequest)
            #expect(unknown["code"] as? String == "unknown_upstream")
            let ungranted = try await Self.start(setup, client, ["agent_id": "stranger", "upstreams": ["fake"]], status: .forbidden)
            #expect(ungranted["code"] as? String == "no_grant")
            let above = try await Self.start(setup, client, ["role": "owner"], status: .forbidden)
            #expect(above["code"] as? String == "role_above_caller")
            let host = try await Self.start(setup, client, ["allow_hosts": ["bad host"]], status: .badRequest)
            #expect(host["code"] as? String == "invalid_request")
            // As if a CONNECT proxy listened: allowed hosts need one.
            setup.fixture.components.connectPort.withLock { $0 = 9 }
            let hosts = try await Self.start(setup, client, ["allow_hosts": ["PyPI.org", "127.0.0.1:8443", "[::1]:9"]])
            #expect(hosts["allow_hosts"] as? [String] == ["pypi.org:443", "127.0.0.1:8443", "[::1]:9"])
            let member = try await client.execute(
                uri: "/api/runs", method: .get, headers: ProxyTests.bearer(try setup.fixture.token(agent: "m", role: "member").token))
            #expect(member.status == .forbidden)
        }
    }

    @Test func aRunBegunOnAnotherServerCountsOnceThisOneHearsOfIt() async throws {
        try await ProxyTests.withProxy { setup, client in
            let runs = try #require(setup.fixture.components.runs)
            // Another server: the same store, its own books.
            let other = AgentRuns(
                store: setup.store, revocations: InMemoryRevocationList(clock: setup.fixture.clock), revocationStore: setup.store,
                clock: setup.fixture.clock)
            let started = try await other.start(
                agent: AgentID("builder-7"), role: Role("developer"), team: .none, command: "sh", startedBy: "ops", upstreams: [],
                allowedHosts: [], sandbox: "none", parent: nil, lifetime: nil, minter: setup.fixture.components.leaseMinter)
            let lease = started.lease.token
            let unheard = try await Self.whoami(lease, client)
            #expect(unheard.status == .unauthorized, "unknown here: refused, never taken on trust")
            try await runs.sync()
            #expect(try await Self.whoami(lease, client).status == .ok)
            // Renewed there: kept alive here after the next sync.
            setup.fixture.clock.advance(by: 25)
            _ = try await other.renew(started.run.id)
            setup.fixture.clock.advance(by: 25)
            #expect(try await Self.whoami(lease, client).status == .unauthorized, "this server has not heard of the renewal")
            try await runs.sync()
            #expect(try await Self.whoami(lease, client).status == .ok)
            // Ended there: the revocation reaches this server through the store.
            _ = try await other.end(started.run.id, exitStatus: 0)
            try await setup.fixture.components.refreshRevocations()
            try await runs.sync()
            #expect(try await Self.whoami(lease, client).status == .unauthorized)
        }
    }

    /// `POST /api/runs/{run}/children` with `lease` and `body`: the response.
    static func child(_ runID: String, lease: String, _ body: [String: Any], _ client: any TestClientProtocol) async throws -> TestResponse
    {
        try await client.execute(
            uri: "/api/runs/\(runID)/children", method: .post, headers: jsonHeaders(ProxyTests.bearer(lease)),
            body: ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body))))
    }

    @Test func aSubAgentsLeaseIsNarrowerAndEndsWithItsParent() async throws {
        try await ProxyTests.withProxy { setup, client in
            setup.fixture.components.connectPort.withLock { $0 = 9 }
            let started = try await Self.start(
                setup, client, ["upstreams": ["fake", "git"], "allow_hosts": ["pypi.org", "files.pythonhosted.org"], "ttl": "2h"])
            let lease = try #require(started["lease"] as? String)
            let runID = try #require(started["run_id"] as? String)

            // Wider in every way: refused, naming each.
            let wider = try await Self.child(
                runID, lease: lease,
                ["name": "tests-1", "role": "admin", "upstreams": ["impatient"], "allow_hosts": ["evil.example"], "ttl": "3h"], client)
            #expect(wider.status == .forbidden)
            let exceeded = try #require(try json(wider.body)["exceeded"] as? [String: Any])
            #expect(Set(exceeded.keys) == ["role", "upstreams", "allow_hosts", "ttl"])
            // Only the run's own lease asks; an admin's token does not.
            let byAdmin = try await Self.child(
                runID, lease: try setup.fixture.token(agent: "ops", role: "admin").token, ["name": "x"], client)
            #expect(ProxyTests.problemCode(byAdmin) == "token_required")

            let narrower = try await Self.child(
                runID, lease: lease, ["name": "tests-1", "role": "viewer", "upstreams": ["fake"], "allow_hosts": ["pypi.org"]], client)
            #expect(narrower.status == .created, "\(String(buffer: narrower.body))")
            let child = try json(narrower.body)
            let childLease = try #require(child["lease"] as? String)
            #expect(child["parent"] as? String == runID)
            #expect(child["renew_every_seconds"] as? Int == 0)
            #expect(child["role"] as? String == "viewer" && child["upstream_names"] as? [String] == ["fake"])
            let who = try json(try await Self.whoami(childLease, client).body)
            #expect(who["agent_id"] as? String == "builder-7" && who["role"] as? String == "viewer")
            #expect(
                try await client.execute(uri: "/proxy/git/v1/x", method: .get, headers: ProxyTests.bearer(childLease)).status == .forbidden)

            // Renewed with its parent, and lapsed with it.
            setup.fixture.clock.advance(by: 20)
            _ = try await client.execute(uri: "/api/runs/\(runID)/renew", method: .post, headers: try Self.admin(setup))
            setup.fixture.clock.advance(by: 20)
            #expect(try await Self.whoami(childLease, client).status == .ok)

            try await setup.audit.flush()
            let records = try await setup.store.auditRecords(after: 0, limit: 100, actor: nil, action: "run.started").map(\.event)
            #expect(records.contains { $0.actor == "builder-7" && $0.target == "builder-7/tests-1" && $0.details["parent"] == runID })

            // Its parent ended: so is it, everywhere.
            _ = try await client.execute(
                uri: "/api/runs/\(runID)/end", method: .post, headers: Self.jsonHeaders(try Self.admin(setup)),
                body: ByteBuffer(string: "{}"))
            #expect(try await Self.whoami(childLease, client).status == .unauthorized)
            let listed =
                try json(
                    try await client.execute(uri: "/api/runs", method: .get, headers: try Self.admin(setup)).body)["runs"]
                as? [[String: Any]]
            #expect(listed?.map { $0["state"] as? String } == ["ended", "ended"])
        }
    }

    @Test func aSubAgentLapsesWithItsParent() async throws {
        try await ProxyTests.withProxy { setup, client in
            let started = try await Self.start(setup, client)
            let lease = try #require(started["lease"] as? String)
            let runID = try #require(started["run_id"] as? String)
            let child = try json(try await Self.child(runID, lease: lease, ["name": "helper"], client).body)
            let childLease = try #require(child["lease"] as? String)
            #expect(try await Self.whoami(childLease, client).status == .ok)
            setup.fixture.clock.advance(by: 30)
            #expect(try await Self.whoami(lease, client).status == .unauthorized)
            #expect(try await Self.whoami(childLease, client).status == .unauthorized)
        }
    }
}
