public import SecurityCore

/// The vault's keys as the keyring file or the environment hold them: numbered 32-byte keys, the
/// primary version that seals, and the lowest version that still opens.
///
/// Environment: `AGENTHOST_VAULT_KEY=<version>:<base64url 32-byte secret>` is the primary key;
/// `AGENTHOST_VAULT_OLD_KEYS=<version>:<secret>,...` are older versions that still open records
/// sealed before a rotation. Otherwise the keys live in the `vault` section of `keyring.json`.
public struct VaultKeySet: Sendable, CustomStringConvertible {
    /// One key version. Its description never shows the secret.
    public struct Entry: Sendable {
        public let version: UInt32
        public let createdAt: Int64
        public let secret: SecureBytes
    }

    /// The primary-key variable.
    public static let primaryVariable = "AGENTHOST_VAULT_KEY"
    /// The older-keys variable.
    public static let olderVariable = "AGENTHOST_VAULT_OLD_KEYS"

    /// Every version held.
    public let entries: [Entry]
    /// The version that seals.
    public let primaryVersion: UInt32
    /// Records sealed under a lower version are refused.
    public let minimumVersion: UInt32
    /// The checked keyring.
    public let keyring: VaultKeyring

    /// Checks the set. Throws ``AgentHostError`` naming what is wrong, never a secret.
    public init(entries: [Entry], primaryVersion: UInt32, minimumVersion: UInt32) throws {
        do {
            keyring = try VaultKeyring(
                keys: entries.map { VaultKey(version: $0.version, secret: $0.secret) }, primaryVersion: primaryVersion,
                minimumDecryptionVersion: minimumVersion
            )
        } catch {
            throw AgentHostError(.keys, "the vault keys are unusable: \(error.reason)")
        }
        self.entries = entries.sorted { $0.version < $1.version }
        self.primaryVersion = primaryVersion
        self.minimumVersion = minimumVersion
    }

    /// A first key set: version 1, fresh random bytes.
    public static func generate(now: Int64) throws -> VaultKeySet {
        try VaultKeySet(entries: [Entry(version: 1, createdAt: now, secret: .random(count: 32))], primaryVersion: 1, minimumVersion: 1)
    }

    /// This set plus a new random primary version one above the highest held. Older versions
    /// still open until every record is re-sealed.
    public func rotated(now: Int64) throws -> VaultKeySet {
        let next = (entries.map(\.version).max() ?? 0) + 1
        guard next <= VaultKeyring.maximumVersion else {
            throw AgentHostError(.keys, "the vault has used every key version up to \(VaultKeyring.maximumVersion)")
        }
        return try VaultKeySet(
            entries: entries + [Entry(version: next, createdAt: now, secret: .random(count: 32))], primaryVersion: next,
            minimumVersion: minimumVersion
        )
    }

    /// Versions only.
    public var description: String { keyring.description }

    /// The keys in the environment, or `nil` when neither variable is set. Values never appear in
    /// errors. The lowest version given is the minimum that opens.
    static func fromEnvironment(_ environment: [String: String]) throws -> VaultKeySet? {
        guard let primaryText = environment[primaryVariable] else {
            if environment[olderVariable] != nil {
                throw AgentHostError(.keys, "\(olderVariable) is set but \(primaryVariable) is not: the vault needs a primary key")
            }
            return nil
        }
        let primary = try parse(primaryText, variable: primaryVariable)
        var entries = [primary]
        if let older = environment[olderVariable] {
            for item in older.split(separator: ",", omittingEmptySubsequences: true) {
                entries.append(try parse(String(item), variable: olderVariable))
            }
        }
        return try VaultKeySet(entries: entries, primaryVersion: primary.version, minimumVersion: entries.map(\.version).min() ?? 1)
    }

    private static func parse(_ text: String, variable: String) throws -> Entry {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let version = UInt32(parts[0]), (1...VaultKeyring.maximumVersion).contains(version) else {
            throw AgentHostError(
                .keys, "\(variable) must look like <version>:<base64url secret>, with a version from 1 to \(VaultKeyring.maximumVersion)")
        }
        guard var bytes = Base64URL.decode(parts[1]) else {
            throw AgentHostError(.keys, "\(variable): the secret of vault key version \(version) is not unpadded base64url")
        }
        defer { SecureBytes.wipe(&bytes) }
        guard bytes.count == 32 else {
            throw AgentHostError(.keys, "\(variable): vault key version \(version) must be 32 bytes (43 base64url characters)")
        }
        return Entry(version: version, createdAt: 0, secret: SecureBytes(copying: bytes))
    }
}

/// Where the vault's keys come from, and first-run creation.
public enum VaultKeySource {
    /// The result of loading vault keys.
    public struct Loaded: Sendable {
        public let keys: VaultKeySet
        public let source: KeySource
        /// Whether this load added the vault keys to the keyring file.
        public let created: Bool
    }

    /// Loads the vault keys from the environment when set, else from the keyring file.
    ///
    /// With `createIfMissing` (`agenthost serve`), a keyring file without a vault section gets a
    /// first vault key. Nothing is created when the token keys come from the environment and no
    /// keyring file exists: production setups say where every key lives.
    public static func load(
        dataDirectory: String, environment: [String: String], createIfMissing: Bool, now: Int64
    ) throws -> Loaded {
        if let keys = try VaultKeySet.fromEnvironment(environment) {
            return Loaded(keys: keys, source: .environment, created: false)
        }
        let file = KeyringFile(dataDirectory: dataDirectory)
        if file.exists {
            if let keys = try file.loadVault() {
                return Loaded(keys: keys, source: .file(path: file.path), created: false)
            }
            if createIfMissing {
                let keys = try VaultKeySet.generate(now: now)
                try file.saveVault(keys)
                return Loaded(keys: keys, source: .file(path: file.path), created: true)
            }
        }
        throw AgentHostError(
            .keys,
            "no vault key, so no credential can be sealed or opened: set \(VaultKeySet.primaryVariable)=1:<base64url of 32 random bytes>, "
                + "or keep the keys in \(file.path) ('agenthost keys init', or start 'agenthost serve' once without token keys in the environment)"
        )
    }
}
