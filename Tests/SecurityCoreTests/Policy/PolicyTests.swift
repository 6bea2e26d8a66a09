import SecurityCore
import Testing

struct PolicyTests {
    static let sample = """
        version: 1
        roles: {ceo: owner, auditor: ~}
        anonymous: true
        actions: [status.read, agents.create, worktrees.view, worktrees.prompt, teams.edit, admin.debug, agents.read]
        routes:
          - {method: GET, path: /api/status, action: status.read}
          - {method: POST, path: /api/agents, action: agents.create}
          - {method: GET, path: "/api/agents/{agent}", action: agents.read}
          - {method: GET, path: "/api/worktrees/{worktree}/**", action: worktrees.view, resource: worktree}
          - {method: POST, path: "/api/worktrees/{worktree}/prompt", action: worktrees.prompt, resource: worktree}
          - {method: PUT, path: "/api/teams/{team}", action: teams.edit}
          - {method: GET, path: /debug, action: admin.debug}
        rules:
          - {id: status-public, effect: permit, actions: [status.read], conditions: [anonymous]}
          - {id: create, effect: permit, actions: [agents.create], min_role: admin}
          - {id: auditors-create, effect: permit, actions: [agents.create], roles: [auditor]}
          - {id: self, effect: permit, actions: [agents.read], conditions: [owner]}
          - {id: view-shared, effect: permit, actions: [worktrees.view], grant: view}
          - {id: prompt-shared, effect: permit, actions: [worktrees.prompt], grant: prompt}
          - {id: own-team, effect: permit, actions: [teams.edit], conditions: [same_team], min_role: member}
          - {id: debug-local, effect: permit, actions: [admin.debug], conditions: [loopback]}
          - {id: no-viewer-writes, effect: forbid, roles: [viewer], methods: [POST, PUT, DELETE]}
        grants:
          - {resource: "worktree:wt-1", team: core, level: view}
          - {resource: "worktree:wt-1", agent: lead, level: all}
        """

    let policy: Policy

    init() throws {
        policy = try PolicyLoader.load(yaml: Self.sample, source: "sample.yaml")
    }

    func decide(_ role: String?, _ request: String, agent: String = "a1", team: String = "core", loopback: Bool = false) -> PolicyDecision {
        let principal = role.map { PolicyPrincipal(agent: agent, role: $0, team: team) }
        return policy.decide(PolicyTestSuite.request(parsing: request, principal: principal, isLoopback: loopback)!)
    }

    @Test func routeIndexKeepsFirstMatchOrder() throws {
        let ordered = try PolicyLoader.load(
            yaml: """
                version: 1
                actions: [any, special, one, two, root]
                routes:
                  - {method: GET, path: "/api/{thing}/x", action: any}
                  - {method: GET, path: /api/special/x, action: special}
                  - {method: GET, path: /api/special/**, action: special}
                  - {method: GET, path: "/api/**", action: one}
                  - {method: GET, path: /api/a/b, action: two}
                  - {method: GET, path: "/**", action: root}
                rules:
                  - {id: r, effect: permit}
                """)
        let cases: [(String, String?)] = [
            ("/api/special/x", "any"),  // an earlier route with a parameter wins over a later literal one
            ("/api/special/y", "special"),
            ("/api/a/b", "one"),  // "/api/**" comes before "/api/a/b"
            ("/api", "one"),
            ("/other/path", "root"),
            ("/", "root"),
            ("/api/../x", nil), ("/api/./a/b", nil),
            ("//api", "one"), ("/api/a/", "one"),  // empty segments are skipped, as the router skips them
        ]
        for (path, action) in cases {
            let decision = ordered.decide(PolicyRequest(principal: PolicyPrincipal(agent: "a", role: "member"), method: "GET", path: path))
            #expect(decision.action == action, "\(path)")
        }
        #expect(ordered.route(method: "GET", path: "/api/zz/x")?.1 == ["thing": "zz"])
    }

    @Test func ranksAreFoundWithManyRolesToo() throws {
        // More than 16 roles: ranks come from the dictionary rather than the short list.
        let names = (0..<20).map { "role\($0)" }
        let many = try PolicyLoader.load(
            yaml: """
                version: 1
                roles: {\(names.map { "\($0): admin" }.joined(separator: ", "))}
                actions: [create]
                routes:
                  - {method: POST, path: /api/agents, action: create}
                rules:
                  - {id: admins, effect: permit, min_role: admin}
                """)
        #expect(many.rank(of: "role17") == many.rank(of: "admin"))
        #expect(many.rank(of: "owner") == 3)
        #expect(many.rank(of: "nobody") == nil)
        #expect(
            many.decide(PolicyRequest(principal: PolicyPrincipal(agent: "a", role: "role19"), method: "POST", path: "/api/agents"))
                .isPermitted)
        #expect(
            !many.decide(PolicyRequest(principal: PolicyPrincipal(agent: "a", role: "member"), method: "POST", path: "/api/agents"))
                .isPermitted)
        #expect(policy.rank(of: "owner") == 3 && policy.rank(of: "nobody") == nil)
    }

    @Test func rolesRanksAndNames() {
        #expect(decide("admin", "POST /api/agents").rules == ["create"])
        #expect(decide("ceo", "POST /api/agents").isPermitted)
        #expect(!decide("member", "POST /api/agents").isPermitted)
        #expect(decide("auditor", "POST /api/agents").rules == ["auditors-create"])
        #expect(!decide("intern", "POST /api/agents").isPermitted)
        let forbidden = decide("viewer", "POST /api/agents")
        #expect(forbidden.effect == .deny)
        #expect(forbidden.rules == ["no-viewer-writes"])
    }

    @Test func conditions() {
        #expect(decide("member", "GET /api/agents/a1").rules == ["self"])
        #expect(!decide("member", "GET /api/agents/a2").isPermitted)
        #expect(decide("member", "PUT /api/teams/core").isPermitted)
        #expect(!decide("member", "PUT /api/teams/other").isPermitted)
        #expect(!decide("member", "PUT /api/teams/core", team: "").isPermitted)
        #expect(decide("member", "GET /debug", loopback: true).isPermitted)
        #expect(!decide("owner", "GET /debug").isPermitted)
    }

    @Test func grantLevels() {
        #expect(decide("member", "GET /api/worktrees/wt-1/files/a.txt").isPermitted)
        #expect(decide("member", "GET /api/worktrees/wt-1/files/a.txt").resource == "worktree:wt-1")
        #expect(!decide("member", "POST /api/worktrees/wt-1/prompt").isPermitted)
        #expect(decide("member", "POST /api/worktrees/wt-1/prompt", agent: "lead").isPermitted)
        #expect(!decide("member", "GET /api/worktrees/wt-2/x", agent: "lead").isPermitted)
        #expect(!decide("member", "GET /api/worktrees/wt-1/x", team: "other").isPermitted)
    }

    @Test func anonymousIsAReadOnlyViewer() {
        #expect(decide(nil, "GET /api/status").rules == ["status-public"])
        #expect(!decide(nil, "POST /api/agents").isPermitted)
        #expect(!decide(nil, "GET /api/agents/a1").isPermitted)
    }

    @Test func usersDevicesAndTheirConditions() throws {
        let policy = try PolicyLoader.load(
            yaml: """
                version: 1
                actions: [keys, read]
                routes:
                  - {method: "*", path: "/users/{user}/keys", action: keys}
                  - {method: GET, path: /things, action: read}
                rules:
                  - {id: own-keys, effect: permit, actions: [keys], conditions: [self]}
                  - {id: read, effect: permit, actions: [read]}
                  - {id: untrusted, effect: forbid, trust: [anonymous, basic], actions: [read]}
                """)
        func decide(_ principal: PolicyPrincipal, _ request: String) -> PolicyDecision {
            policy.decide(PolicyTestSuite.request(parsing: request, principal: principal)!)
        }
        let alice = PolicyPrincipal(agent: "user:alice", role: "member", user: "alice")
        #expect(decide(alice, "PUT /users/alice/keys").rules == ["own-keys"])
        #expect(!decide(alice, "PUT /users/bob/keys").isPermitted)
        // An agent whose id is alice is not the user alice.
        #expect(!decide(PolicyPrincipal(agent: "alice", role: "owner"), "PUT /users/alice/keys").isPermitted)
        #expect(decide(PolicyPrincipal(agent: "a", role: "member"), "GET /things").isPermitted)
        for (trust, permitted) in [(DeviceTrust.anonymous, false), (.basic, false), (.verified, true), (.trusted, true)] {
            let device = PolicyPrincipal(agent: "device:d", role: "member", trust: trust)
            #expect(decide(device, "GET /things").isPermitted == permitted)
        }
        let parsed = try #require(PolicyTestSuite.principal(parsing: "device=d1,role=viewer,trust=verified") ?? nil)
        #expect(parsed.agent == "device:d1" && parsed.trust == .verified)
        #expect(PolicyTestSuite.principal(parsing: "user=a,device=b,role=viewer") == nil)
        #expect(PolicyTestSuite.principal(parsing: "agent=a,role=viewer,trust=basic") == nil)
    }

    @Test func defaultDenyAndStrictPaths() {
        #expect(decide("owner", "GET /nowhere").reason.contains("no route"))
        #expect(!decide("member", "GET /api/agents/../agents/a1", agent: "..").isPermitted)
        // A trailing slash or a doubled one is the same route, as the router reaches it.
        #expect(decide("member", "GET /api/agents/a1/").isPermitted && decide("member", "GET /api//agents/a1").isPermitted)
        #expect(!decide("member", "GET /api/agents/a2/").isPermitted)
        #expect(decide("admin", "POST /api/agents?x=1").isPermitted)
    }

    @Test(
        arguments: [
            ("version: 2\nactions: [a]", 1, "version"),
            ("version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: b}\nrules: []", 4, "unknown action 'b'"),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, roles: [nobody]}",
                6, "unknown role 'nobody'"
            ),
            (
                "version: 1\nactions: [a, b]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, actions: [b]}",
                6, "no request can reach"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit}\n  - {id: r, effect: forbid}",
                7, "duplicate rule id"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit}",
                5, "duplicate route"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, conditions: [anonymous]}",
                6, "anonymous"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, conditions: [owner]}",
                6, "{agent}"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, methods: [POST]}",
                6, "no route maps"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, conditions: [self]}",
                6, "{user}"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, trust: [high]}",
                6, "unknown trust level 'high'"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, trust: []}",
                6, "empty trust list"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit, colour: red}",
                6, "unknown key 'colour'"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a/../b, action: a}\nrules:\n  - {id: r, effect: permit}", 4,
                "segment"
            ),
            ("version: 1\nroles: {ceo: king}\nactions: [a]", 2, "unknown role 'king'"),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit}\ngrants:\n  - {resource: wt, team: x, level: all}",
                8, "type:id"
            ),
            (
                "{\"version\": 1, \"actions\": [\"a\"], \"routes\": [{\"method\": \"GET\", \"path\": \"/a\", \"action\": \"a\"}], \"rules\": [{\"id\": \"r\", \"effect\": \"allow\"}]}",
                1, "permit or forbid"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit}\negress:\n  nobody: [pypi.org]",
                8, "unknown role 'nobody'"
            ),
            (
                "version: 1\nactions: [a]\nroutes:\n  - {method: GET, path: /a, action: a}\nrules:\n  - {id: r, effect: permit}\negress:\n  member: [\"bad host\"]",
                8, "is not host[:port]"
            ),
            ("version: 1\n  bad: [indent", 0, "not valid YAML"),
            ("", 0, "empty"),
        ] as [(String, Int, String)])
    func loadErrorsNameTheLineAndTheReason(text: String, line: Int, fragment: String) {
        let error = #expect(throws: PolicyLoadError.self) { try PolicyLoader.load(yaml: text, source: "p.yaml") }
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
        // Type and code first, then where: `PolicyLoadError(invalid): p.yaml:3: rule r: …`.
        #expect(
            error?.description.hasPrefix("PolicyLoadError(\(error?.code.description ?? "")): p.yaml:\(line): ") == true,
            "\(String(describing: error))")
        #expect(error?.code == (fragment == "not valid YAML" ? .syntax : .invalid))
    }

    @Test func egressNamesARolesHosts() throws {
        let loaded = try PolicyLoader.load(
            yaml: """
                version: 1
                actions: [a]
                routes:
                  - {method: GET, path: /a, action: a}
                rules:
                  - {id: r, effect: permit}
                egress:
                  member: [PyPI.org, "files.pythonhosted.org:443", "10.0.0.5:8443"]
                """, source: "p.yaml")
        #expect(
            loaded.egress["member"] == Set(["pypi.org:443", "files.pythonhosted.org:443", "10.0.0.5:8443"].compactMap { HostPort($0) }))
        #expect(loaded.egress["admin"] == nil)
        #expect(policy.egress.isEmpty)
    }

    @Test func casesFilesRunAndReportMismatches() throws {
        let suite = try PolicyTestSuite.load(
            yaml: """
                cases:
                  - {name: admin creates, principal: {role: admin}, request: POST /api/agents, expect: permit, rule: create}
                  - {name: wrong on purpose, principal: {role: member}, request: POST /api/agents, expect: permit}
                  - {name: wrong rule, principal: {role: viewer}, request: POST /api/agents, expect: deny, rule: create}
                  - {name: anonymous status, principal: anonymous, request: {method: GET, path: /api/status}, expect: permit}
                """)
        let results = suite.run(against: policy)
        #expect(results.map(\.passed) == [true, false, false, true])
        #expect(results[1].description.hasPrefix("FAIL wrong on purpose: expected permit, got deny"))
        #expect(throws: PolicyLoadError.self) {
            try PolicyTestSuite.load(yaml: "cases:\n  - {principal: {role: a}, request: nonsense, expect: permit}")
        }
        #expect(throws: PolicyLoadError.self) {
            try PolicyTestSuite.load(yaml: "cases:\n  - {principal: {role: a}, request: GET /, expect: maybe}")
        }
    }

    @Test func commandLinePrincipals() {
        #expect(
            PolicyTestSuite.principal(parsing: "role=member,agent=x,team=core")
                == .some(PolicyPrincipal(agent: "x", role: "member", team: "core")))
        #expect(PolicyTestSuite.principal(parsing: "anonymous") == .some(nil))
        #expect(PolicyTestSuite.principal(parsing: "agent=x") == nil)
        #expect(PolicyTestSuite.principal(parsing: "role=a,role=b") == nil)
        #expect(PolicyTestSuite.principal(parsing: "colour=red,role=a") == nil)
    }
}
