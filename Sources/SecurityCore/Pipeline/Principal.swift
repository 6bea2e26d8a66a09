/// Who a request acts for, once the pipeline has authenticated it.
///
/// Agents, users, API keys and devices live in separate name spaces: the policy and the rate
/// limiter see ``subject`` (`builder-7`, `user:alice`, `key:ahk_…`, `device:ahd_…`), so a user
/// named like an agent never passes the `owner` condition for that agent's routes.
public struct Principal: Hashable, Sendable {
    /// How the principal proved who it is.
    ///
    /// The claims are boxed (`indirect`): a principal travels through several enums and results
    /// on its way out of the pipeline, and 120 bytes of claims made each of those moves a copy.
    public enum Authentication: Hashable, Sendable {
        /// A verified agent token, with everything it said.
        indirect case agentToken(AgentTokenClaims)
        /// `X-Agent-*` headers believed without proof, in header-trust mode only.
        case trustedHeaders
        /// A user's session token from `POST /api/login`; ``Principal/agent`` is the user name.
        indirect case userSession(AgentTokenClaims)
        /// An API key; ``Principal/agent`` is the key's public id.
        case apiKey
        /// A registered device and its trust level; ``Principal/agent`` is the device id.
        case device(DeviceTrust)
    }

    /// The agent id, or the user name, API key id or device id (see ``authentication``).
    public let agent: AgentID
    /// The role.
    public let role: Role
    /// The team (possibly empty).
    public let team: Team
    /// How the identity was established.
    public let authentication: Authentication

    public init(agent: AgentID, role: Role, team: Team, authentication: Authentication) {
        self.agent = agent
        self.role = role
        self.team = team
        self.authentication = authentication
    }

    /// The name the policy and the rate limiter know the principal by: the agent id for agents,
    /// `user:NAME`, `key:ID` or `device:ID` for the others.
    public var subject: String {
        switch authentication {
        case .agentToken, .trustedHeaders: agent.rawValue
        case .userSession: "user:" + agent.rawValue
        case .apiKey: "key:" + agent.rawValue
        case .device: "device:" + agent.rawValue
        }
    }

    /// The user name, for a user session.
    public var user: String? {
        if case .userSession = authentication { agent.rawValue } else { nil }
    }

    /// The device's trust level, for a device.
    public var deviceTrust: DeviceTrust? {
        if case .device(let trust) = authentication { trust } else { nil }
    }

    /// The principal as the policy sees it.
    public var policyPrincipal: PolicyPrincipal {
        PolicyPrincipal(agent: subject, role: role.rawValue, team: team.rawValue, user: user, trust: deviceTrust)
    }

    /// A short name for how the principal authenticated: `agent-token`, `header-trust`,
    /// `user-session`, `api-key` or `device`.
    public var authenticationMethod: String {
        switch authentication {
        case .agentToken: "agent-token"
        case .trustedHeaders: "header-trust"
        case .userSession: "user-session"
        case .apiKey: "api-key"
        case .device: "device"
        }
    }

    /// Whether the principal proved itself with a credential (anything but header-trust).
    public var isProven: Bool {
        if case .trustedHeaders = authentication { false } else { true }
    }
}

/// Authenticates credentials other than agent tokens: user sessions, API keys, devices. The
/// pipeline asks it about a bearer credential that is not a valid agent token (malformed as one,
/// or signed for another audience).
///
/// Implementations answer from memory: they run on every such request.
public protocol CredentialAuthenticator: Sendable {
    /// The principal `credential` proves; a ``TokenError`` when it is of a kind this authenticator
    /// knows but is not valid (unknown, wrong secret, expired, revoked); `nil` when it is not a
    /// kind it knows, so the agent verifier's answer stands.
    func authenticate(_ credential: String) -> Result<Principal, TokenError>?
}
