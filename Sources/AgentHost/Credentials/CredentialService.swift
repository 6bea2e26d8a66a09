public import SecurityCore

/// What the credential service needs from a store: sealed records and grants.
public typealias CredentialStore = VaultRecordStore & SecretGrantStore

/// Provider credentials, sealed in the vault and kept in the store: set, asked about, deleted,
/// granted to agents, and released only at the moment of use.
///
/// Nothing here returns a secret as a value: ``withSecret(_:_:)`` lends it to a closure and
/// ``release(agent:into:)`` writes it straight into a response body.
public final class CredentialService: Sendable {
    /// The vault that seals and opens.
    public let vault: Vault
    /// Where sealed records and grants live.
    public let store: any CredentialStore
    /// Learns every secret this service sets or opens, so logs never show one; `nil` for none.
    public let redactor: SecretRedactor?
    let clock: any TimeSource
    /// The proxy's recent grant lookups, forgotten on every change made here.
    let lookups: GrantLookups

    /// A service over `store`, counting encryptions from where the store's count stands. Its caches
    /// read `ticks`; by default `clock` when it is one too (a test's `ManualTimeSource`), else
    /// the system's monotonic clock.
    public static func open(
        keys: VaultKeyring, store: any CredentialStore, clock: any TimeSource = SystemTimeSource(), redactor: SecretRedactor? = nil,
        ticks: (any TickSource)? = nil
    ) async throws -> CredentialService {
        CredentialService(
            vault: Vault(keyring: keys, encryptionCounts: try await store.encryptionCounts()), store: store, clock: clock,
            redactor: redactor, ticks: ticks ?? (clock as? any TickSource) ?? SystemTickSource()
        )
    }

    init(vault: Vault, store: any CredentialStore, clock: any TimeSource, redactor: SecretRedactor? = nil, ticks: any TickSource) {
        self.vault = vault
        self.store = store
        self.clock = clock
        self.redactor = redactor
        self.lookups = GrantLookups(ticks: ticks)
    }

    /// Checks that `secret` can be set: at most `Vault/maximumSecretByteCount` bytes of UTF-8
    /// without NUL (it may become an environment variable). Throws ``CredentialError``.
    public static func checkSecret(_ secret: SecureBytes) throws(CredentialError) {
        guard secret.count > 0 else { throw CredentialError(.invalidSecret, "the secret is empty") }
        guard secret.count <= Vault.maximumSecretByteCount else {
            throw CredentialError(.invalidSecret, "a secret may be at most \(Vault.maximumSecretByteCount) bytes")
        }
        let acceptable = secret.isTextWithoutNUL
        guard acceptable else { throw CredentialError(.invalidSecret, "a secret must be UTF-8 text without NUL characters") }
    }

    /// Seals `secret` as `path`, replacing any secret there.
    public func set(_ path: SecretPath, secret: SecureBytes) async throws {
        try Self.checkSecret(secret)
        defer { lookups.invalidate() }
        redactor?.register(secret)
        let id = Self.newRecordID()
        let sealed = try vault.seal(secret, for: RecordIdentity(owner: path.owner, recordID: id, name: path.name))
        // Counted before the write: a crash in between over-counts, which only brings rotation forward.
        try await store.recordEncryptions(version: sealed.keyVersion, count: 1)
        try await store.put(VaultRecordRow(id: id, owner: path.owner, name: path.name, sealed: sealed, updatedAt: clock.now()))
    }

    /// When the secret at `path` was last set, or `nil` if there is none.
    public func updatedAt(_ path: SecretPath) async throws -> Int64? {
        try await store.record(owner: path.owner, name: path.name)?.updatedAt
    }

    /// Deletes the secret at `path`; whether there was one.
    public func delete(_ path: SecretPath) async throws -> Bool {
        defer { lookups.invalidate() }
        return try await store.delete(owner: path.owner, name: path.name)
    }

    /// Lends the secret at `path` to `body` and wipes it afterwards; `nil` if there is none.
    /// Throws `VaultError` when the stored record does not open (it must be set again).
    public func withSecret<Result>(_ path: SecretPath, _ body: (SecureBytes) throws -> Result) async throws -> Result? {
        guard let row = try await store.record(owner: path.owner, name: path.name) else { return nil }
        return try vault.withSecret(in: row.sealed, for: row.identity) { secret in
            redactor?.register(secret)
            return try body(secret)
        }
    }

    /// The owner of users' TOTP secrets: no `/` either, so no secret path names them. They are
    /// vault records like any other, so `vault rotate` re-seals them.
    static let secondFactorOwner = "agenthost-totp"

    /// Seals `secret` as the TOTP secret of `username`, replacing any earlier one.
    func setSecondFactorSecret(_ secret: SecureBytes, for username: String) async throws {
        defer { lookups.invalidate() }
        redactor?.register(secret)
        let id = Self.newRecordID()
        let sealed = try vault.seal(secret, for: RecordIdentity(owner: Self.secondFactorOwner, recordID: id, name: username))
        try await store.recordEncryptions(version: sealed.keyVersion, count: 1)
        try await store.put(
            VaultRecordRow(id: id, owner: Self.secondFactorOwner, name: username, sealed: sealed, updatedAt: clock.now()))
    }

    /// Lends the TOTP secret of `username` to `body`; `nil` when there is none.
    func withSecondFactorSecret<Result>(for username: String, _ body: (SecureBytes) throws -> Result) async throws -> Result? {
        guard let row = try await store.record(owner: Self.secondFactorOwner, name: username) else { return nil }
        return try vault.withSecret(in: row.sealed, for: row.identity) { try body($0) }
    }

    /// Seals `secret` as the server's own record `name` (a provider's client secret), replacing
    /// any there. Under the server's own owner, so no secret path, grant or release can name it.
    public func setSystemSecret(named name: String, secret: SecureBytes) async throws {
        try Self.checkSecret(secret)
        redactor?.register(secret)
        let id = Self.newRecordID()
        let sealed = try vault.seal(secret, for: RecordIdentity(owner: Self.systemOwner, recordID: id, name: name))
        try await store.recordEncryptions(version: sealed.keyVersion, count: 1)
        try await store.put(VaultRecordRow(id: id, owner: Self.systemOwner, name: name, sealed: sealed, updatedAt: clock.now()))
    }

    /// The server's own record `name`, opened; `nil` when none is set.
    public func systemSecret(named name: String) async throws -> SecureBytes? {
        guard let row = try await store.record(owner: Self.systemOwner, name: name) else { return nil }
        let secret = try vault.withSecret(in: row.sealed, for: row.identity) { SecureBytes(copying: $0) }
        redactor?.register(secret)
        return secret
    }

    /// The owner of the server's own sealed keys. It has no `/`, so no secret path (and so no
    /// grant, `vault put` or onboarding) can name these records.
    static let systemOwner = "agenthost"

    /// A key of the server's own (the access-key pepper, the audit key): 32 random bytes sealed in
    /// the vault as `agenthost/<name>`, made on first use. Servers starting together on one
    /// database agree on one key: the first insert wins and everyone reads it back.
    public func systemKey(named name: String) async throws -> HMACSHA256Key {
        if let key = try await openSystemKey(named: name) { return key }
        let id = Self.newRecordID()
        let identity = RecordIdentity(owner: Self.systemOwner, recordID: id, name: name)
        let sealed = try vault.seal(SecureBytes.random(count: 32), for: identity)
        try await store.recordEncryptions(version: sealed.keyVersion, count: 1)
        _ = try await store.insert(VaultRecordRow(id: id, owner: Self.systemOwner, name: name, sealed: sealed, updatedAt: clock.now()))
        guard let key = try await openSystemKey(named: name) else {
            throw AgentHostError(.keys, "the server key \(Self.systemOwner)/\(name) was written but cannot be read back")
        }
        return key
    }

    /// The server key `name`, or `nil` when none is stored yet. A record that is there but does not
    /// open stops the caller (a server starting, a command) with an ``AgentHostError`` that names
    /// the record, what depends on it, and what to do: making a new key would silently invalidate
    /// every API key and device, or break the audit chain.
    private func openSystemKey(named name: String) async throws -> HMACSHA256Key? {
        guard let row = try await store.record(owner: Self.systemOwner, name: name) else { return nil }
        do {
            return try vault.withSecret(in: row.sealed, for: row.identity) { HMACSHA256Key($0) }
        } catch let error as VaultError {
            let guards = Self.systemKeyPurposes[name].map { " It \($0)." } ?? ""
            throw AgentHostError(
                .keys,
                "the server key \(Self.systemOwner)/\(name) (vault record \(row.id), sealed under vault key version "
                    + "\(row.sealed.keyVersion)) does not open: \(error.code.description).\(guards) The vault keys in use are not the "
                    + "ones it was sealed with, or the record was altered: restore the keyring file or AGENTHOST_VAULT_KEY that "
                    + "sealed it. 'agenthost vault verify' lists every record that does not open."
            )
        }
    }

    /// What each server key protects, for the message when it does not open.
    private static let systemKeyPurposes = [
        "access-key-pepper": "checks every API key and device secret",
        "audit-key": "signs the audit log's chain",
    ]

    /// A random record id: 32 hex digits.
    static func newRecordID() -> String {
        SecureBytes.random(count: 16).hexEncoded()
    }
}

/// Why a credential operation was refused. Never carries secret bytes.
public struct CredentialError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidSecret = "invalid_secret"
            case invalidEnvironmentName = "invalid_env"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Empty, too large, not UTF-8, or holds NUL.
        public static let invalidSecret = Code(.invalidSecret)
        /// The environment variable name cannot be granted.
        public static let invalidEnvironmentName = Code(.invalidEnvironmentName)

        /// The problem code a refusal for this failure carries.
        public var problemCode: ProblemCode {
            switch value {
            case .invalidSecret: .invalidSecret
            case .invalidEnvironmentName: .invalidEnvironmentName
            }
        }

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
