public import SecurityCore

/// What the `agenthost` subcommands do, as functions the tests can call without a process.
public enum AgentHostCLI {
    /// Mints a token with the keys of `dataDirectory` (or the environment). Never creates keys.
    public static func mint(
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
                "the keyring has no primary key, so no token can be minted: run 'agenthost keys rotate' "
                    + "or set \(KeySource.primaryVariable)"
            )
        } catch let error as TokenError {
            throw AgentHostError(error.reason)
        }
    }

    /// Creates the keyring file with one primary key; refuses to overwrite an existing one.
    public static func initializeKeyring(dataDirectory: String, clock: any TimeSource = SystemTimeSource()) throws -> KeyID {
        let file = KeyringFile(dataDirectory: dataDirectory)
        guard !file.exists else {
            throw AgentHostError("\(file.path) already exists; use 'agenthost keys rotate' to add a key")
        }
        let key = try TokenKey.generate(status: .primary, now: clock.now())
        try file.save(try Keyring(keys: [key]))
        return key.id
    }

    /// Adds a new primary key to the keyring file; the old primary becomes verify-only.
    public static func rotate(
        dataDirectory: String, environment: [String: String], clock: any TimeSource = SystemTimeSource()
    ) throws -> KeyID {
        let file = try editableFile(dataDirectory: dataDirectory, environment: environment)
        let key = try TokenKey.generate(status: .primary, now: clock.now())
        try file.save(try file.load().rotated(to: key))
        return key.id
    }

    /// Retires key `id` in the keyring file.
    public static func retire(_ id: KeyID, dataDirectory: String, environment: [String: String]) throws {
        let file = try editableFile(dataDirectory: dataDirectory, environment: environment)
        let keyring: Keyring
        do {
            keyring = try file.load().retiring(id)
        } catch let error as TokenError {
            throw AgentHostError(error.reason)
        }
        try file.save(keyring)
    }

    private static func editableFile(dataDirectory: String, environment: [String: String]) throws -> KeyringFile {
        if environment[KeySource.primaryVariable] != nil || environment[KeySource.verifyVariable] != nil {
            throw AgentHostError(
                "token keys come from \(KeySource.primaryVariable) / \(KeySource.verifyVariable); rotate them there, not in a file"
            )
        }
        let file = KeyringFile(dataDirectory: dataDirectory)
        guard file.exists else {
            throw AgentHostError("no keyring at \(file.path); create one with 'agenthost keys init'")
        }
        return file
    }
}
