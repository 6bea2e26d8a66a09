package import SecurityCore

/// What the `agenthost` subcommands and the server share, in one place: package access, not public
/// API. The executable only parses arguments and calls these; tests call them without a process.
package enum AgentHostCLI {
    /// Mints a token with the keys of `dataDirectory` (or the environment). Never creates keys.
    package static func mint(
        agent: AgentID, role: Role, team: Team, lifetime: Duration, policy: TokenPolicy,
        dataDirectory: String, environment: [String: String], clock: any TimeSource = SystemTimeSource()
    ) throws -> MintedToken {
        let loaded = try KeySource.load(
            dataDirectory: dataDirectory, environment: environment, createIfMissing: false, now: clock.now()
        )
        do {
            return try TokenMinter(keyring: loaded.keyring, policy: policy, clock: clock)
                .mint(agent: agent, role: role, team: team, lifetime: lifetime)
        } catch let error as TokenError where error.code == .noSigningKey {
            throw AgentHostError(
                .keys,
                "the keyring has no primary key, so no token can be minted: run 'agenthost keys rotate' "
                    + "or set \(KeySource.primaryVariable)"
            )
        } catch let error as TokenError {
            throw error
        }
    }

    /// Creates the keyring file with one primary token key and vault key version 1; refuses to
    /// overwrite an existing one.
    package static func initializeKeyring(dataDirectory: String, clock: any TimeSource = SystemTimeSource()) throws -> KeyID {
        let file = KeyringFile(dataDirectory: dataDirectory)
        guard !file.exists else {
            throw AgentHostError(.conflict, "\(file.path) already exists; use 'agenthost keys rotate' to add a key")
        }
        let key = try TokenKey.generate(status: .primary, now: clock.now())
        try file.save(try Keyring(keys: [key]))
        try file.saveVault(try VaultKeySet.generate(now: clock.now()))
        return key.id
    }

    /// Adds a new primary key to the keyring file; the old primary becomes verify-only.
    package static func rotate(
        dataDirectory: String, environment: [String: String], clock: any TimeSource = SystemTimeSource()
    ) throws -> KeyID {
        let file = try editableFile(dataDirectory: dataDirectory, environment: environment)
        let key = try TokenKey.generate(status: .primary, now: clock.now())
        try file.save(try file.load().rotated(to: key))
        return key.id
    }

    /// Retires key `id` in the keyring file.
    package static func retire(_ id: KeyID, dataDirectory: String, environment: [String: String]) throws {
        let file = try editableFile(dataDirectory: dataDirectory, environment: environment)
        let keyring: Keyring
        do {
            keyring = try file.load().retiring(id)
        } catch let error as TokenError {
            throw error
        }
        try file.save(keyring)
    }

    private static func editableFile(dataDirectory: String, environment: [String: String]) throws -> KeyringFile {
        if environment[KeySource.primaryVariable] != nil || environment[KeySource.verifyVariable] != nil {
            throw AgentHostError(
                .keys, "token keys come from \(KeySource.primaryVariable) / \(KeySource.verifyVariable); rotate them there, not in a file"
            )
        }
        let file = KeyringFile(dataDirectory: dataDirectory)
        guard file.exists else {
            throw AgentHostError(.keys, "no keyring at \(file.path); create one with 'agenthost keys init'")
        }
        return file
    }
}

extension AgentHostCLI {
    /// What `agenthost policy test` prints and whether every case passed.
    package struct PolicyTestReport: Sendable {
        /// One line per case, then a summary line.
        package let lines: [String]
        /// Whether every case passed.
        package let passed: Bool
    }

    /// Runs a cases file against a policy: the embedded default policy and its cases when both
    /// paths are `nil`. A custom policy needs its own cases.
    package static func testPolicy(policyPath: String?, casesPath: String?) throws -> PolicyTestReport {
        if policyPath != nil, casesPath == nil {
            throw AgentHostError(.invalidInput, "--policy needs --cases: the default cases describe the default policy")
        }
        let policy = try policyPath.map { path throws(PolicyLoadError) in try PolicyLoader.load(contentsOf: path) } ?? DefaultPolicy.load()
        let suite =
            try casesPath.map { path throws(PolicyLoadError) in try PolicyTestSuite.load(contentsOf: path) } ?? DefaultPolicy.cases()
        let results = suite.run(against: policy)
        let failed = results.filter { !$0.passed }.count
        let summary = "\(results.count - failed) passed, \(failed) failed"
        return PolicyTestReport(lines: results.map(\.description) + [summary], passed: failed == 0 && !results.isEmpty)
    }

    /// What `agenthost policy explain` prints: the decision for one request and why, and whether
    /// its client counts as local (``ClientAddressResolver/isLocal(peer:headers:)``, as `serve`
    /// decides it): a `peer` on loopback that is not one of `trustedProxies`, with no forwarding
    /// header among `headers`. Without a peer the client is not local.
    package static func explainPolicy(
        policyPath: String?, principal: String, request: String, peer: String? = nil, headers: [HeaderField] = [],
        trustedProxies: [IPNetwork] = []
    ) throws -> [String] {
        let policy = try policyPath.map { path throws(PolicyLoadError) in try PolicyLoader.load(contentsOf: path) } ?? DefaultPolicy.load()
        guard let parsedPrincipal = PolicyTestSuite.principal(parsing: principal) else {
            throw AgentHostError(.invalidInput, "--principal must be 'anonymous' or role=ROLE[,agent=ID][,team=TEAM]")
        }
        let local = ClientAddressResolver(trustedProxies: trustedProxies).isLocal(peer: peer, headers: headers)
        guard let parsedRequest = PolicyTestSuite.request(parsing: request, principal: parsedPrincipal, isLoopback: local) else {
            throw AgentHostError(.invalidInput, "--request must be 'METHOD /path', such as 'POST /api/agents'")
        }
        let decision = policy.decide(parsedRequest)
        var lines = ["\(decision.effect.rawValue.uppercased())", "reason: \(decision.reason)", "client: \(local ? "local" : "not local")"]
        if let action = decision.action { lines.append("action: \(action)") }
        if let resource = decision.resource { lines.append("resource: \(resource)") }
        if !decision.rules.isEmpty { lines.append("rules: \(decision.rules.joined(separator: ", "))") }
        return lines
    }
}
