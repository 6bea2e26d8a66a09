/// Who a request acts for, once an ``Authenticator`` has proved it: a ``Subject``, a role and a team.
///
/// Policies see the role, the team and ``id``. Agents, users, API keys and devices live in separate
/// name spaces (`builder-7`, `user:alice`, `key:ahk_…`, `device:ahd_…`), so a user named like an
/// agent never passes the `owner` condition for that agent's routes.
public struct Principal: Hashable, Sendable {
    /// Who, and how it was proved.
    public let subject: Subject
    /// The role.
    public let role: Role
    /// The team (possibly empty).
    public let team: Team

    public init(subject: Subject, role: Role, team: Team) {
        self.subject = subject
        self.role = role
        self.team = team
    }

    /// The name the policy, the rate limiter and the audit log know the principal by:
    /// ``Subject/id``.
    public var id: String { subject.id }

    /// The principal as the policy sees it.
    public var policyPrincipal: PolicyPrincipal {
        PolicyPrincipal(agent: subject.id, role: role.rawValue, team: team.rawValue, user: subject.userName, trust: subject.deviceTrust)
    }
}

/// Who a principal is, by the kind of credential that proved it.
public enum Subject: Hashable, Sendable {
    /// An agent, proven by an agent token, with everything the token said. (Claims are boxed: a
    /// principal travels through several enums and results on its way out of the pipeline.)
    indirect case agent(AgentTokenClaims)
    /// An agent launched by `agenthost run`, proven by its lease: an agent token under the lease
    /// audience that lives only while its run does (Docs/RUN.md). It acts as its agent (same
    /// ``id``), but cannot mint, revoke or create credentials.
    indirect case lease(AgentTokenClaims)
    /// An agent believed from its `X-Agent-*` headers without proof, in header-trust mode only.
    case trustedAgent(AgentID)
    /// A user, proven by a session token from `POST /api/login`; the claims' agent field holds the
    /// user name.
    indirect case user(AgentTokenClaims)
    /// An API key, by its public id (`ahk_…`).
    case apiKey(AgentID)
    /// A registered device, by its id (`ahd_…`), and its trust level.
    case device(AgentID, DeviceTrust)

    /// The name without its kind: the agent id, user name, key id or device id.
    public var name: String {
        switch self {
        case .agent(let claims), .lease(let claims), .user(let claims): claims.agent.rawValue
        case .trustedAgent(let id), .apiKey(let id), .device(let id, _): id.rawValue
        }
    }

    /// The name with its kind: the agent id for agents, `user:NAME`, `key:ID` or `device:ID`.
    public var id: String {
        switch self {
        case .agent, .lease, .trustedAgent: name
        case .user: "user:" + name
        case .apiKey: "key:" + name
        case .device: "device:" + name
        }
    }

    /// How it was proved: `agent-token`, `lease`, `header-trust`, `user-session`, `api-key` or
    /// `device`.
    public var method: String {
        switch self {
        case .agent: "agent-token"
        case .lease: "lease"
        case .trustedAgent: "header-trust"
        case .user: "user-session"
        case .apiKey: "api-key"
        case .device: "device"
        }
    }

    /// Whether a credential proved it (anything but header-trust).
    public var isProven: Bool {
        if case .trustedAgent = self { false } else { true }
    }

    /// The token's claims, for an agent token, a lease or a user session.
    public var tokenClaims: AgentTokenClaims? {
        switch self {
        case .agent(let claims), .lease(let claims), .user(let claims): claims
        case .trustedAgent, .apiKey, .device: nil
        }
    }

    /// The user name, for a user.
    public var userName: String? {
        if case .user(let claims) = self { claims.agent.rawValue } else { nil }
    }

    /// The trust level, for a device.
    public var deviceTrust: DeviceTrust? {
        if case .device(_, let trust) = self { trust } else { nil }
    }
}
