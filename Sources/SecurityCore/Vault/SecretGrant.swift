/// A grant: agent `agent` receives the vault secret `owner`/`name` as environment variable `env`
/// when it asks for its environment at the moment of use.
public struct SecretGrant: Hashable, Sendable {
    public let agent: String
    public let env: String
    /// The secret's owner, such as `projects/p1`.
    public let owner: String
    /// The secret's name, such as `git-token`.
    public let name: String
    /// When the grant was made, in Unix seconds.
    public let createdAt: Int64

    public init(agent: String, env: String, owner: String, name: String, createdAt: Int64) {
        self.agent = agent
        self.env = env
        self.owner = owner
        self.name = name
        self.createdAt = createdAt
    }
}

/// Where grants live. One grant per (agent, env): granting the same variable again replaces it.
public protocol SecretGrantStore: Sendable {
    func putGrant(_ grant: SecretGrant) async throws
    /// The grants of `agent`, by variable name.
    func grants(agent: String) async throws -> [SecretGrant]
    /// Removes the grant of `env` to `agent`; whether there was one.
    func deleteGrant(agent: String, env: String) async throws -> Bool
}
