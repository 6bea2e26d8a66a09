/// A route rule: requests with this method and path are the action `action` on the resource the
/// path parameter `resource.parameter` names.
public struct PolicyRoute: Hashable, Sendable {
    /// The route's id (defaults to `METHOD path`).
    public let id: String
    /// The method, upper case, or `*` for any.
    public let method: String
    /// The path template.
    public let path: PathTemplate
    /// The action requests on this route perform.
    public let action: String
    /// The resource the route acts on, if any.
    public let resource: ResourceReference?
    /// Where the route was defined (line in the policy file).
    public let line: Int
}

/// A resource named by a path parameter: type `worktree` with the id in `{worktree}`.
public struct ResourceReference: Hashable, Sendable {
    public let type: String
    public let parameter: String
}

/// Access levels a grant gives on a resource, lowest first (Agor's worktree sharing).
public enum GrantLevel: Int, Hashable, Sendable, Comparable, CaseIterable {
    case none
    case view
    case prompt
    case all

    public static func < (lhs: GrantLevel, rhs: GrantLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The name used in policy files.
    public var name: String {
        switch self {
        case .none: "none"
        case .view: "view"
        case .prompt: "prompt"
        case .all: "all"
        }
    }

    init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }
}

/// A grant of `level` on `resource` (`type:id`) to an agent, a team or a role.
public struct ResourceGrant: Hashable, Sendable {
    public enum Subject: Hashable, Sendable {
        case agent(String)
        case team(String)
        case role(String)
    }

    public let resource: String
    public let subject: Subject
    public let level: GrantLevel
    public let line: Int
}

/// Conditions a rule may add.
public enum PolicyCondition: String, Hashable, Sendable, CaseIterable {
    /// The principal's team equals the route's `{team}` parameter.
    case sameTeam = "same_team"
    /// The principal's agent id equals the route's `{agent}` parameter.
    case owner
    /// The client is local: a loopback peer that is not a trusted proxy and sends no forwarding
    /// header (``PolicyRequest/isLoopback``).
    case loopback
    /// The rule also matches anonymous requests (when the policy enables them).
    case anonymous
    /// The principal is the user the route's `{user}` parameter names (a user session).
    case selfUser = "self"
}

/// A permit or forbid rule.
public struct PolicyRule: Hashable, Sendable {
    public enum Effect: String, Hashable, Sendable {
        case permit
        case forbid
    }

    public let id: String
    public let effect: Effect
    /// The actions it covers; `nil` for every action.
    public let actions: Set<String>?
    /// The methods it covers; `nil` for every method.
    public let methods: Set<String>?
    /// Roles it names exactly; `nil` when not restricted by name.
    public let roles: Set<String>?
    /// The lowest built-in rank it covers; `nil` when not restricted by rank.
    public let minimumRole: String?
    /// Extra conditions, all of which must hold.
    public let conditions: Set<PolicyCondition>
    /// The grant level the principal must hold on the route's resource.
    public let requiredGrant: GrantLevel?
    /// The device trust levels it covers; `nil` when not restricted. A rule with levels matches
    /// only devices.
    public let trustLevels: Set<DeviceTrust>?
    /// Where the rule was defined (line in the policy file).
    public let line: Int

    /// Whether the rule matches. The policy's index has already checked `actions`, and `methods`
    /// against the route; `minimumRank` is the rank of `minimumRole`.
    func matches(_ request: PolicyRequest, _ context: Policy.MatchContext, in policy: Policy, minimumRank: Int?) -> Bool {
        if let methods, !methods.contains(request.method) { return false }
        guard let principal = request.principal else {
            // Anonymous: only rules that say so, acting as a viewer.
            guard conditions.contains(.anonymous) else { return false }
            return roleMatches("viewer", rank: 0, minimumRank: minimumRank)
                && otherConditionsHold(request, context, policy: policy)
        }
        if let trustLevels {
            guard let trust = principal.trust, trustLevels.contains(trust) else { return false }
        }
        return roleMatches(principal.role, rank: context.principalRank, minimumRank: minimumRank)
            && otherConditionsHold(request, context, policy: policy)
    }

    private func roleMatches(_ role: String, rank: Int?, minimumRank: Int?) -> Bool {
        if roles == nil, minimumRole == nil { return true }
        if let roles, roles.contains(role) { return true }
        if let minimumRank, let rank, rank >= minimumRank { return true }
        return false
    }

    private func otherConditionsHold(_ request: PolicyRequest, _ context: Policy.MatchContext, policy: Policy) -> Bool {
        for condition in conditions {
            switch condition {
            case .anonymous: continue
            case .loopback: if !request.isLoopback { return false }
            case .sameTeam:
                guard let team = request.principal?.team, !team.isEmpty, context.parameters["team"] == team else { return false }
            case .owner:
                guard let agent = request.principal?.agent, context.parameters["agent"] == agent else { return false }
            case .selfUser:
                guard let user = request.principal?.user, context.parameters["user"] == user else { return false }
            }
        }
        if let requiredGrant {
            guard let resource = context.resource, policy.grantLevel(of: request.principal, on: resource) >= requiredGrant else {
                return false
            }
        }
        return true
    }
}
