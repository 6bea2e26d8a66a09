/// Who a request acts for, once the pipeline has authenticated it.
public struct Principal: Hashable, Sendable {
    /// How the principal proved who it is.
    public enum Authentication: Hashable, Sendable {
        /// A verified agent token, with everything it said.
        case agentToken(AgentTokenClaims)
        /// `X-Agent-*` headers believed without proof, in header-trust mode only.
        case trustedHeaders
    }

    /// The agent's id.
    public let agent: AgentID
    /// The agent's role.
    public let role: Role
    /// The agent's team (possibly empty).
    public let team: Team
    /// How the identity was established.
    public let authentication: Authentication

    public init(agent: AgentID, role: Role, team: Team, authentication: Authentication) {
        self.agent = agent
        self.role = role
        self.team = team
        self.authentication = authentication
    }

    /// A short name for how the principal authenticated: `agent-token` or `header-trust`.
    public var authenticationMethod: String {
        switch authentication {
        case .agentToken: "agent-token"
        case .trustedHeaders: "header-trust"
        }
    }
}
