/// A grant: agent `agent` may use the vault secret `owner`/`name` under the environment name `env`.
///
/// A proxy-only grant is used only by the proxy, which injects the secret into the agent's calls to
/// an upstream (and by `agenthost git` for clones); any other grant is also released to the agent
/// as that environment variable when it asks for its environment.
public struct SecretGrant: Hashable, Sendable {
    public let agent: String
    public let env: String
    /// The secret's owner, such as `projects/p1`.
    public let owner: String
    /// The secret's name, such as `git-token`.
    public let name: String
    /// When the grant was made, in Unix seconds.
    public let createdAt: Int64
    /// Whether only the proxy may use the secret: it is never released to the agent.
    public let proxyOnly: Bool

    public init(agent: String, env: String, owner: String, name: String, createdAt: Int64, proxyOnly: Bool = false) {
        self.agent = agent
        self.env = env
        self.owner = owner
        self.name = name
        self.createdAt = createdAt
        self.proxyOnly = proxyOnly
    }
}

/// Where grants live. One grant per (agent, env): granting the same variable again replaces it.
public protocol SecretGrantStore: Sendable {
    func putGrant(_ grant: SecretGrant) async throws
    /// The grants of `agent`, by variable name.
    func grants(agent: String) async throws -> [SecretGrant]
    /// The grant of `env` to `agent`, if there is one.
    func grant(agent: String, env: String) async throws -> SecretGrant?
    /// Removes the grant of `env` to `agent`; whether there was one.
    func deleteGrant(agent: String, env: String) async throws -> Bool
}

extension SecretGrantStore {
    /// Looks through ``grants(agent:)``; a store may answer more directly.
    public func grant(agent: String, env: String) async throws -> SecretGrant? {
        try await grants(agent: agent).first { $0.env == env }
    }
}
