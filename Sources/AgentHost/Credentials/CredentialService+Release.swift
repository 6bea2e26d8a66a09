public import SecurityCore
import Synchronization

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
        defer { lookups.invalidate() }
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
                    redactor?.register(secret)
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

// MARK: - The proxy's lookups

extension CredentialService {
    /// What ``withGrantedSecret(agent:env:cache:scope:_:)`` found.
    enum GrantedSecret<Result> {
        /// The agent holds no grant of the env name.
        case noGrant
        /// The grant names a secret that is not set.
        case notSet(SecretGrant)
        /// The secret, lent to the body, and what the body made of it.
        case opened(SecretGrant, Result)
    }

    /// Removes the grant of `env` to `agent`; whether there was one.
    public func removeGrant(agent: AgentID, env: String) async throws -> Bool {
        defer { lookups.invalidate() }
        return try await store.deleteGrant(agent: agent.rawValue, env: env)
    }

    /// Lends `body` the secret `agent` was granted as `env`, opened for this call and wiped after;
    /// or, with a `cache`, what `body` made of the same sealed record before.
    ///
    /// The grant and its sealed record (never the plaintext) are kept for up to
    /// ``GrantLookups/lifetime`` so that a proxied call does not wait on the store twice: a change
    /// made through this service is seen at once, one made by another server sharing the store
    /// within that time. What `body` makes is kept in `cache` (under `scope`, the agent and `env`)
    /// only while that lookup still gives the same sealed record: a removed grant or a changed
    /// secret drops it. Throws ``VaultError`` when the record does not open even when read anew.
    func withGrantedSecret<Result: Sendable>(
        agent: AgentID, env: String, cache: OpenedSecretCache<Result>? = nil, scope: String = "",
        _ body: (SecureBytes) throws -> Result
    ) async throws -> GrantedSecret<Result> {
        let key = OpenedSecretCache<Result>.Key(scope: scope, agent: agent.rawValue, env: env)
        var fresh = false
        var found = lookups.find(agent: agent.rawValue, env: env)
        if found == nil {
            found = try await lookUp(agent: agent.rawValue, env: env)
            fresh = true
        }
        guard let found, let grant = found.grant else {
            cache?.forget(key)
            return .noGrant
        }
        guard let row = found.row else {
            cache?.forget(key)
            return .notSet(grant)
        }
        if let kept = cache?.value(for: key, record: row) {
            // The log redactor forgets the oldest of many secrets: one in use is learnt again.
            redactor?.register(kept.secret)
            return .opened(grant, kept.value)
        }
        do {
            return .opened(grant, try open(row, keepingIn: cache, as: key, body))
        } catch is VaultError where !fresh {
            // Kept from before a rotation, say: read it again once.
            lookups.invalidate()
            guard let again = try await lookUp(agent: agent.rawValue, env: env), let grant = again.grant else { return .noGrant }
            guard let row = again.row else { return .notSet(grant) }
            return .opened(grant, try open(row, keepingIn: cache, as: key, body))
        }
    }

    /// ``open(_:_:)``, keeping what `body` made, and a copy of the secret, in `cache`.
    private func open<Result: Sendable>(
        _ row: VaultRecordRow, keepingIn cache: OpenedSecretCache<Result>?, as key: OpenedSecretCache<Result>.Key,
        _ body: (SecureBytes) throws -> Result
    ) throws -> Result {
        guard let cache else { return try open(row, body) }
        var lent: SecureBytes?
        let result = try open(row) { secret in
            lent = SecureBytes(copying: secret)
            return try body(secret)
        }
        if let lent { cache.keep(result, for: key, record: row, secret: lent) }
        return result
    }

    private func open<Result>(_ row: VaultRecordRow, _ body: (SecureBytes) throws -> Result) throws -> Result {
        try vault.withSecret(in: row.sealed, for: row.identity) { secret in
            redactor?.register(secret)
            return try body(secret)
        }
    }

    private func lookUp(agent: String, env: String) async throws -> GrantLookups.Entry? {
        let generation = lookups.generation
        let grant = try await store.grant(agent: agent, env: env)
        var row: VaultRecordRow?
        if let grant { row = try await store.record(owner: grant.owner, name: grant.name) }
        let entry = GrantLookups.Entry(grant: grant, row: row)
        lookups.keep(entry, agent: agent, env: env, readAt: generation)
        return entry
    }
}

/// The proxy's recent grant lookups: each grant and its sealed record, for a short time.
final class GrantLookups: Sendable {
    struct Entry: Sendable {
        let grant: SecretGrant?
        let row: VaultRecordRow?
    }

    private struct Key: Hashable {
        let agent: String
        let env: String
    }

    private struct State {
        var entries: [Key: (entry: Entry, expires: Int64)] = [:]
        /// Bumped by every change made through the service; an entry read before one is dropped.
        var generation: UInt64 = 0
    }

    /// How long a lookup is kept: how late this server's proxy may see a grant removed or a
    /// secret changed by another server sharing the store.
    static let lifetime = Duration.seconds(2)
    /// The most lookups kept.
    static let capacity = 10_000

    private let state = Mutex(State())
    /// What a lookup's age is read on.
    private let ticks: any TickSource

    init(ticks: any TickSource) {
        self.ticks = ticks
    }

    var generation: UInt64 { state.withLock { $0.generation } }

    func find(agent: String, env: String) -> Entry? {
        let now = ticks.nanoseconds()
        return state.withLock { state in
            guard let kept = state.entries[Key(agent: agent, env: env)], kept.expires > now else { return nil }
            return kept.entry
        }
    }

    /// Keeps `entry` unless something changed since `generation` was read.
    func keep(_ entry: Entry, agent: String, env: String, readAt generation: UInt64) {
        let expires = ticks.nanoseconds() + Self.lifetime.wholeNanoseconds
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[Key(agent: agent, env: env)] = (entry, expires)
        }
    }

    /// Forgets everything: a grant or a secret changed.
    func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }
}
