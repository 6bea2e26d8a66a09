/// An authorization policy: roles, actions, route rules, permit and forbid rules, and resource
/// grants, loaded from YAML or JSON by ``PolicyLoader`` and checked when it loads.
///
/// A request is mapped to an action by the first route whose method and path template match; the
/// template's parameters name the resource. Then every rule is tried: any matching forbid rule
/// denies, else any matching permit rule permits, else the default is deny. Anonymous principals
/// (when the policy enables them) are read-only viewers.
///
/// ```swift
/// let policy = try PolicyLoader.load(yaml: text, source: "policy.yaml")
/// let decision = policy.decide(PolicyRequest(
///     principal: .init(agent: "builder-7", role: "member", team: "core"),
///     method: "GET", path: "/api/whoami"))
/// decision.effect  // .permit
/// ```
public struct Policy: Sendable {
    /// The built-in roles, lowest first: each ranks above the ones before it.
    public static let builtInRoles = ["viewer", "member", "admin", "owner"]

    /// Every role the policy knows, with its rank (an index into ``builtInRoles``) if it has one.
    public var roles: [String: Int?] { storage.roles }
    /// Every action the policy knows.
    public var actions: Set<String> { storage.actions }
    /// Route rules, in the order they are tried.
    public var routes: [PolicyRoute] { storage.routes }
    /// Permit and forbid rules.
    public var rules: [PolicyRule] { storage.rules }
    /// Resource grants.
    public var grants: [ResourceGrant] { storage.grants }
    /// Whether requests without a credential are decided as an anonymous viewer.
    public var allowsAnonymous: Bool { storage.allowsAnonymous }
    /// By role, the hosts an agent launched with that role may reach through AgentHost's
    /// `CONNECT` proxy besides its run's own list (the policy's `egress:`).
    public var egress: [String: Set<HostPort>] { storage.egress }
    /// Routes and rules precomputed for fast decisions.
    var index: PolicyIndex { storage.index }

    /// Everything, behind one reference: a policy is copied into every pipeline configuration and
    /// read on every request, and copying one reference is cheaper than copying a dozen.
    private final class Storage: Sendable {
        let roles: [String: Int?]
        let actions: Set<String>
        let routes: [PolicyRoute]
        let rules: [PolicyRule]
        let grants: [ResourceGrant]
        let allowsAnonymous: Bool
        let egress: [String: Set<HostPort>]
        let index: PolicyIndex

        init(
            roles: [String: Int?], actions: Set<String>, routes: [PolicyRoute], rules: [PolicyRule],
            grants: [ResourceGrant], allowsAnonymous: Bool, egress: [String: Set<HostPort>]
        ) {
            self.egress = egress
            self.roles = roles
            self.actions = actions
            self.routes = routes
            self.rules = rules
            self.grants = grants
            self.allowsAnonymous = allowsAnonymous
            self.index = PolicyIndex(routes: routes, rules: rules, roles: roles)
        }
    }

    private let storage: Storage

    init(
        roles: [String: Int?], actions: Set<String>, routes: [PolicyRoute], rules: [PolicyRule],
        grants: [ResourceGrant], allowsAnonymous: Bool, egress: [String: Set<HostPort>] = [:]
    ) {
        storage = Storage(
            roles: roles, actions: actions, routes: routes, rules: rules, grants: grants, allowsAnonymous: allowsAnonymous,
            egress: egress
        )
    }

    /// The rank of `role`, or `nil` when it has none (unknown or unranked roles).
    public func rank(of role: String) -> Int? {
        storage.roles[role] ?? nil
    }

    /// The route a request maps to, with its captured parameters.
    public func route(method: String, path: Substring) -> (PolicyRoute, [String: String])? {
        guard let parts = PathSegments(withoutQuery(path)), let index = routeIndex(method: method, parts) else { return nil }
        return (routes[index], routes[index].path.captures(parts) ?? [:])
    }

    /// The index of the first route matching `method` and the path split into `parts`.
    func routeIndex(method: String, _ parts: PathSegments) -> Int? {
        storage.index.candidates(for: parts).first { index in
            (routes[index].method == method || routes[index].method == "*") && routes[index].path.matches(parts)
        }
    }

    /// Decides one request. Never throws: anything unexpected is a deny with a reason.
    public func decide(_ request: PolicyRequest) -> PolicyDecision {
        guard let parts = PathSegments(withoutQuery(request.path[...])),
            let routeIndex = routeIndex(method: request.method, parts)
        else {
            return PolicyDecision(effect: .deny, rules: [], explanation: .noRoute(method: request.method, path: request.path))
        }
        let route = routes[routeIndex]
        let parameters = route.path.hasParameters ? (route.path.captures(parts) ?? [:]) : [:]
        let resource = route.resource.flatMap { reference in
            parameters[reference.parameter].map { "\(reference.type):\($0)" }
        }
        func decision(_ effect: PolicyDecision.Effect, _ rules: [String], _ explanation: PolicyDecision.Explanation) -> PolicyDecision {
            PolicyDecision(effect: effect, rules: rules, explanation: explanation, action: route.action, resource: resource)
        }
        let principalRank: Int?
        if let role = request.principal?.role {
            principalRank = rank(of: role)
        } else {
            guard allowsAnonymous else { return decision(.deny, [], .anonymousDisabled) }
            guard Self.isReadOnly(request.method) else { return decision(.deny, [], .anonymousReadOnly) }
            principalRank = nil
        }
        let context = MatchContext(parameters: parameters, resource: resource, principalRank: principalRank)
        let forbidding = matchingRules(index.forbidCandidates[routeIndex], request, context)
        if !forbidding.isEmpty { return decision(.deny, forbidding, .forbidden) }
        let permitting = matchingRules(index.permitCandidates[routeIndex], request, context)
        if !permitting.isEmpty { return decision(.permit, permitting, .permitted) }
        return decision(.deny, [], .noRulePermits)
    }

    /// The ids of the rules among `candidates` that match, in order.
    private func matchingRules(_ candidates: [Int], _ request: PolicyRequest, _ context: MatchContext) -> [String] {
        candidates.filter { rules[$0].matches(request, context, in: self, minimumRank: index.minimumRanks[$0]) }.map { rules[$0].id }
    }

    /// The grant level `principal` holds on `resource`: the highest of the grants naming its
    /// agent, its team or its role.
    public func grantLevel(of principal: PolicyPrincipal?, on resource: String) -> GrantLevel {
        guard let principal else { return .none }
        var level = GrantLevel.none
        for grant in grants where grant.resource == resource {
            let applies: Bool
            switch grant.subject {
            case .agent(let agent): applies = principal.agent == agent
            case .team(let team): applies = !principal.team.isEmpty && principal.team == team
            case .role(let role): applies = principal.role == role
            }
            if applies, grant.level > level { level = grant.level }
        }
        return level
    }

    static func isReadOnly(_ method: String) -> Bool {
        method == "GET" || method == "HEAD"
    }

    /// What the rules compare against, besides the request: worked out once per decision.
    struct MatchContext {
        let parameters: [String: String]
        let resource: String?
        /// The principal's role rank, looked up once.
        let principalRank: Int?
    }
}

/// Who a policy decision is about. `nil` in a ``PolicyRequest`` means anonymous.
public struct PolicyPrincipal: Hashable, Sendable {
    /// The agent id.
    public var agent: String
    /// The role name.
    public var role: String
    /// The team, possibly empty.
    public var team: String
    /// The user name, when the principal is a user session (the `self` condition compares it).
    public var user: String?
    /// The trust level, when the principal is a device (a rule's `trust:` list compares it).
    public var trust: DeviceTrust?

    public init(agent: String, role: String, team: String = "", user: String? = nil, trust: DeviceTrust? = nil) {
        self.agent = agent
        self.role = role
        self.team = team
        self.user = user
        self.trust = trust
    }
}

/// The request a decision is about.
public struct PolicyRequest: Hashable, Sendable {
    /// The principal, or `nil` for an anonymous request.
    public var principal: PolicyPrincipal?
    /// The method, upper case.
    public var method: String
    /// The path (a query string is ignored).
    public var path: String
    /// Whether the client is this machine itself: a loopback peer that is not a trusted proxy
    /// and sends no forwarding header (``SecurityPipeline/isLocal(_:)``), not merely a loopback
    /// address, which a proxy on the same host would give every client.
    public var isLoopback: Bool

    public init(principal: PolicyPrincipal?, method: String, path: String, isLoopback: Bool = false) {
        self.principal = principal
        self.method = method
        self.path = path
        self.isLoopback = isLoopback
    }
}

/// A policy's answer, with why.
public struct PolicyDecision: Hashable, Sendable, CustomStringConvertible {
    /// Permit or deny.
    public enum Effect: String, Hashable, Sendable {
        case permit
        case deny
    }

    /// Why, kept as data and written out only when ``reason`` is read.
    enum Explanation: Hashable, Sendable {
        case text(String)
        case noRoute(method: String, path: String)
        case anonymousDisabled
        case anonymousReadOnly
        case forbidden
        case permitted
        case noRulePermits
    }

    /// The effect.
    public let effect: Effect
    /// The ids of the rules that decided it; empty for the default deny.
    public let rules: [String]
    /// The action the request mapped to, if any route matched.
    public let action: String?
    /// The resource (`type:id`) the route named, if any.
    public let resource: String?
    let explanation: Explanation

    public init(effect: Effect, rules: [String], reason: String, action: String? = nil, resource: String? = nil) {
        self.init(effect: effect, rules: rules, explanation: .text(reason), action: action, resource: resource)
    }

    init(effect: Effect, rules: [String], explanation: Explanation, action: String? = nil, resource: String? = nil) {
        self.effect = effect
        self.rules = rules
        self.explanation = explanation
        self.action = action
        self.resource = resource
    }

    /// A sentence saying why.
    public var reason: String {
        switch explanation {
        case .text(let text): text
        case .noRoute(let method, let path): "no route rule matches \(method) \(withoutQuery(path[...]))"
        case .anonymousDisabled: "anonymous access is not enabled"
        case .anonymousReadOnly: "anonymous access is read-only"
        case .forbidden: "forbidden by \(rules.joined(separator: ", "))"
        case .permitted: "permitted by \(rules.joined(separator: ", "))"
        case .noRulePermits: "no rule permits \(action ?? "this action") for this principal"
        }
    }

    /// Whether the request is permitted.
    public var isPermitted: Bool { effect == .permit }

    public var description: String {
        var text = "\(effect.rawValue): \(reason)"
        if let action { text += " (action \(action)" + (resource.map { ", resource \($0)" } ?? "") + ")" }
        return text
    }
}
