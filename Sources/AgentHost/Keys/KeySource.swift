public import SecurityCore

/// Where the server's token keys come from: the environment (for production) or the keyring file
/// in the data directory.
///
/// Environment: `AGENTHOST_TOKEN_KEY=<key id>:<base64url secret of at least 32 bytes>` is the
/// primary key; `AGENTHOST_TOKEN_VERIFY_KEYS=<id>:<secret>,<id>:<secret>` are older keys that still
/// verify. When `AGENTHOST_TOKEN_KEY` is set the keyring file is neither read nor created.
public enum KeySource: Sendable, Equatable {
    case environment
    case file(path: String)

    /// The name of the primary-key variable.
    public static let primaryVariable = "AGENTHOST_TOKEN_KEY"
    /// The name of the verify-only-keys variable.
    public static let verifyVariable = "AGENTHOST_TOKEN_VERIFY_KEYS"

    /// The result of loading keys.
    public struct Loaded: Sendable {
        public let keyring: Keyring
        public let source: KeySource
        /// Whether the keyring file was created by this load.
        public let created: Bool
    }

    /// Loads keys from the environment when it has them, else from the keyring file.
    ///
    /// With `createIfMissing` a missing file is created with one new primary key (first-run
    /// convenience for `serve`); without it, a missing file is an error that says what to set.
    public static func load(
        dataDirectory: String, environment: [String: String], createIfMissing: Bool, now: Int64
    ) throws -> Loaded {
        if environment[primaryVariable] != nil || environment[verifyVariable] != nil {
            return Loaded(keyring: try keyringFromEnvironment(environment), source: .environment, created: false)
        }
        let file = KeyringFile(dataDirectory: dataDirectory)
        if file.exists {
            return Loaded(keyring: try file.load(), source: .file(path: file.path), created: false)
        }
        guard createIfMissing else {
            throw AgentHostError(
                .keys,
                "no token keys: set \(primaryVariable)=<key id>:<base64url secret> (32+ bytes), or create "
                    + "\(file.path) with 'agenthost keys init --data-dir \(dataDirectory)' "
                    + "(or by starting 'agenthost serve' once)"
            )
        }
        let keyring = try Keyring(keys: [TokenKey.generate(status: .primary, now: now)])
        try file.save(keyring)
        return Loaded(keyring: keyring, source: .file(path: file.path), created: true)
    }

    /// Parses the key variables. Values never appear in errors.
    static func keyringFromEnvironment(_ environment: [String: String]) throws -> Keyring {
        var keys: [TokenKey] = []
        if let primary = environment[primaryVariable] {
            keys.append(try parseKey(primary, status: .primary, variable: primaryVariable))
        }
        if let verifying = environment[verifyVariable], !verifying.isEmpty {
            for entry in verifying.split(separator: ",", omittingEmptySubsequences: true) {
                keys.append(try parseKey(String(entry), status: .verifyOnly, variable: verifyVariable))
            }
        }
        do {
            return try Keyring(keys: keys)
        } catch {
            throw AgentHostError(.keys, "\(primaryVariable) / \(verifyVariable) are inconsistent: \(error)")
        }
    }

    private static func parseKey(_ text: String, status: TokenKey.Status, variable: String) throws -> TokenKey {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let id = try? KeyID(String(parts[0])) else {
            throw AgentHostError(.keys, "\(variable) must look like <key id>:<base64url secret>; the key id part is invalid")
        }
        guard var bytes = Base64URL.decode(parts[1]) else {
            throw AgentHostError(.keys, "\(variable): the secret of key \(id) is not unpadded base64url")
        }
        defer { SecureBytes.wipe(&bytes) }
        do {
            return try TokenKey(id: id, secret: SecureBytes(copying: bytes), status: status)
        } catch {
            throw AgentHostError(.keys, "\(variable): key \(id) is unusable: \(error)")
        }
    }
}
