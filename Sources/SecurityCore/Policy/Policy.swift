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
    public let roles: [String: Int?]
    /// Every action the policy knows.
    public let actions: Set<String>
    /// Route rules, in the order they are tried.
    public let routes: [PolicyRoute]
    /// Permit and forbid rules.
    public let rules: [PolicyRule]
    /// Resource grants.
    public let grants: [ResourceGrant]
    /// Whether requests without a credential are decided as an anonymous viewer.
    public let allowsAnonymous: Bool

    init(
        roles: [String: Int?], actions: Set<String>, routes: [PolicyRoute], rules: [PolicyRule],
        grants: [ResourceGrant], allowsAnonymous: Bool
    ) {
        self.roles = roles
        self.actions = actions
        self.routes = routes
        self.rules = rules
        self.grants = grants
        self.allowsAnonymous = allowsAnonymous
    }

    /// The rank of `role`, or `nil` when it has none (unknown or unranked roles).
    public func rank(of role: String) -> Int? {
        roles[role] ?? nil
    }

    /// The route a request maps to, with its captured parameters.
    public func route(method: String, path: Substring) -> (PolicyRoute, [String: String])? {
        for route in routes where route.method == method || route.method == "*" {
            if let parameters = route.path.match(path) { return (route, parameters) }
        }
        return nil
    }

    /// Decides one request. Never throws: anything unexpected is a deny with a reason.
    public func decide(_ request: PolicyRequest) -> PolicyDecision {
        let path = request.path.prefix { $0 != "?" && $0 != "#" }
        guard let (route, parameters) = route(method: request.method, path: path) else {
            return PolicyDecision(effect: .deny, rules: [], reason: "no route rule matches \(request.method) \(path)")
        }
        let resource = route.resource.flatMap { reference in
            parameters[reference.parameter].map { "\(reference.type):\($0)" }
        }
        func decision(_ effect: PolicyDecision.Effect, _ rules: [String], _ reason: String) -> PolicyDecision {
            PolicyDecision(effect: effect, rules: rules, reason: reason, action: route.action, resource: resource)
        }
        let principal = request.principal
        if principal == nil {
            guard allowsAnonymous else {
                return decision(.deny, [], "anonymous access is not enabled")
            }
            guard Self.isReadOnly(request.method) else {
                return decision(.deny, [], "anonymous access is read-only")
            }
        }
        let context = MatchContext(
            policy: self, request: request, route: route, parameters: parameters, resource: resource
        )
        let forbidding = rules.filter { $0.effect == .forbid && $0.matches(context) }.map(\.id)
        if !forbidding.isEmpty {
            return decision(.deny, forbidding, "forbidden by \(forbidding.joined(separator: ", "))")
        }
        let permitting = rules.filter { $0.effect == .permit && $0.matches(context) }.map(\.id)
        if !permitting.isEmpty {
            return decision(.permit, permitting, "permitted by \(permitting.joined(separator: ", "))")
        }
        return decision(.deny, [], "no rule permits \(route.action) for this principal")
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

    struct MatchContext {
        let policy: Policy
        let request: PolicyRequest
        let route: PolicyRoute
        let parameters: [String: String]
        let resource: String?
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

    public init(agent: String, role: String, team: String = "") {
        self.agent = agent
        self.role = role
        self.team = team
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
    /// Whether the client is on a loopback address.
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

    /// The effect.
    public let effect: Effect
    /// The ids of the rules that decided it; empty for the default deny.
    public let rules: [String]
    /// A sentence saying why.
    public let reason: String
    /// The action the request mapped to, if any route matched.
    public let action: String?
    /// The resource (`type:id`) the route named, if any.
    public let resource: String?

    public init(effect: Effect, rules: [String], reason: String, action: String? = nil, resource: String? = nil) {
        self.effect = effect
        self.rules = rules
        self.reason = reason
        self.action = action
        self.resource = resource
    }

    /// Whether the request is permitted.
    public var isPermitted: Bool { effect == .permit }

    public var description: String {
        var text = "\(effect.rawValue): \(reason)"
        if let action { text += " (action \(action)" + (resource.map { ", resource \($0)" } ?? "") + ")" }
        return text
    }
}
