public import SecurityCore

extension CredentialService {
    /// What a release handed out, by variable name. The values went into the body only.
    public struct ReleaseSummary: Hashable, Sendable {
        /// Variables whose secret was released.
        public var released: [String] = []
        /// Variables granted a secret that is not set.
        public var missing: [String] = []
        /// Variables whose stored secret does not open (altered, swapped, or its key retired):
        /// it must be set again.
        public var unreadable: [String] = []
        /// Variables granted for the proxy only: never released.
        public var proxyOnly: [String] = []
    }

    /// Grants `agent` the secret at `path` under environment name `env`; a `proxyOnly` grant is
    /// used only by the proxy, never released.
    public func grant(agent: AgentID, secret path: SecretPath, env: String, proxyOnly: Bool = false) async throws {
        try Self.checkEnvironmentName(env)
        try await store.putGrant(
            SecretGrant(agent: agent.rawValue, env: env, owner: path.owner, name: path.name, createdAt: clock.now(), proxyOnly: proxyOnly))
    }

    /// Environment variable names an agent may receive: `[A-Z_][A-Z0-9_]*`, at most 128 bytes, and
    /// none that changes how a program is loaded or run (`PATH`, `LD_*`, ...).
    public static func checkEnvironmentName(_ name: String) throws(CredentialError) {
        let bytes = Array(name.utf8)
        let shaped =
            (1...128).contains(bytes.count)
            && bytes.enumerated().allSatisfy { index, byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"): true
                case UInt8(ascii: "0")...UInt8(ascii: "9"): index > 0
                default: false
                }
            }
        guard shaped else {
            throw CredentialError(
                .invalidEnvironmentName, "env must be 1-128 of A-Z 0-9 _, not starting with a digit, such as GITHUB_TOKEN")
        }
        let reserved = [
            "PATH", "HOME", "SHELL", "USER", "IFS", "ENV", "BASH_ENV", "PWD", "TMPDIR", "NODE_OPTIONS", "PYTHONPATH", "PYTHONSTARTUP",
            "PERL5OPT", "RUBYOPT", "GIT_SSH_COMMAND", "GIT_CONFIG_GLOBAL",
        ]
        guard !reserved.contains(name), !name.hasPrefix("LD_"), !name.hasPrefix("DYLD_") else {
            throw CredentialError(.invalidEnvironmentName, "\(name) changes how programs load or run; grant the secret under another name")
        }
    }

    /// The agent's environment as the JSON body of `GET /v1/secrets/agents/{agent}/env`, appended
    /// to `body`: `{"env":{...},"missing":[...],"unreadable":[...],"proxy_only":[...]}`. Proxy-only
    /// grants are listed by name and never opened. Each secret goes from the
    /// vault into `body` without becoming a `String`, and `body` is given its worst-case capacity
    /// first, so it never moves (leaving a copy behind): the caller wipes it once it is sent.
    public func release(agent: AgentID, into body: inout [UInt8]) async throws -> ReleaseSummary {
        var summary = ReleaseSummary()
        var found: [(grant: SecretGrant, row: VaultRecordRow)] = []
        var capacity = body.count + 96
        for grant in try await store.grants(agent: agent.rawValue) {
            capacity += 6 * grant.env.utf8.count + 8  // every byte may become \u00XX
            if grant.proxyOnly {
                summary.proxyOnly.append(grant.env)
                continue
            }
            guard let row = try await store.record(owner: grant.owner, name: grant.name) else {
                summary.missing.append(grant.env)
                continue
            }
            capacity += 6 * row.sealed.bytes.count
            found.append((grant, row))
        }
        body.reserveCapacity(capacity)
        body.append(contentsOf: #"{"env":{"#.utf8)
        for (grant, row) in found {
            do {
                try vault.withSecret(in: row.sealed, for: row.identity) { secret in
                    redactor?.register(bytes: secret)
                    if !summary.released.isEmpty { body.append(UInt8(ascii: ",")) }
                    JSONWriter.append(string: grant.env.utf8, to: &body)
                    body.append(UInt8(ascii: ":"))
                    JSONWriter.append(string: secret, to: &body)
                }
                summary.released.append(grant.env)
            } catch is VaultError {
                summary.unreadable.append(grant.env)
            }
        }
        body.append(contentsOf: #"},"missing":"#.utf8)
        JSONWriter.append(array: summary.missing, to: &body)
        body.append(contentsOf: #","unreadable":"#.utf8)
        JSONWriter.append(array: summary.unreadable, to: &body)
        body.append(contentsOf: #","proxy_only":"#.utf8)
        JSONWriter.append(array: summary.proxyOnly, to: &body)
        body.append(UInt8(ascii: "}"))
        return summary
    }
}
