import Foundation
import Yams

/// Why a policy file was refused: where, which rule, and what is wrong.
public struct PolicyLoadError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case unreadable
            case syntax
            case invalid
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file could not be read.
        public static let unreadable = Code(.unreadable)
        /// Not YAML or JSON.
        public static let syntax = Code(.syntax)
        /// Read, but not a policy (or cases file) that can be used: a missing or unknown key, an
        /// unknown role or action, an unreachable or duplicate rule.
        public static let invalid = Code(.invalid)

        public var description: String { value.rawValue }
    }

    /// A reason without a location, for helpers that do not know where they are.
    struct Reason: Error, Hashable, Sendable {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// What kind of failure, as a stable code.
    public let code: Code
    /// The file (or name) the policy came from.
    public let source: String
    /// The line, starting at 1; 0 when unknown.
    public let line: Int
    /// The rule, route or grant concerned, if any.
    public let item: String?
    /// What is wrong.
    public let reason: String

    init(_ code: Code = .invalid, source: String, line: Int, item: String?, reason: String) {
        self.code = code
        self.source = source
        self.line = line
        self.item = item
        self.reason = reason
    }

    /// `PolicyLoadError(code): source:line: item: reason`: where, then what.
    public var description: String {
        "PolicyLoadError(\(code)): \(source):\(line): " + (item.map { "\($0): " } ?? "") + reason
    }
}

/// Reads policies from YAML or JSON (JSON is read as YAML, which it is a subset of) and checks
/// them: unknown roles or actions, rules no request can reach, and duplicates are load errors
/// naming the rule and the line.
///
/// The format (Docs/POLICIES.md describes it with examples):
/// ```yaml
/// version: 1
/// roles: {ceo: owner, developer: member, auditor: ~}   # custom roles, ranked as a built-in or not
/// actions: [whoami.read, agents.create]
/// anonymous: false
/// routes:
///   - {method: GET, path: /api/whoami, action: whoami.read}
///   - {method: GET, path: "/api/worktrees/{worktree}", action: worktrees.view, resource: worktree}
/// rules:
///   - {id: whoami, effect: permit, actions: [whoami.read]}
///   - {id: create-agents, effect: permit, actions: [agents.create], min_role: admin}
///   - {id: viewers-read-only, effect: forbid, roles: [viewer], methods: [POST, PUT, PATCH, DELETE]}
/// grants:
///   - {resource: "worktree:wt-1", team: core, level: prompt}
/// ```
public enum PolicyLoader {
    /// Parses and checks `text`. `source` names it in errors.
    public static func load(yaml text: String, source: String = "policy") throws(PolicyLoadError) -> Policy {
        try Reader(source: source).policy(text)
    }

    /// Reads and checks the file at `path`.
    public static func load(contentsOf path: String) throws(PolicyLoadError) -> Policy {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PolicyLoadError(.unreadable, source: path, line: 0, item: nil, reason: "cannot read the file")
        }
        return try load(yaml: text, source: path)
    }

    struct Reader {
        let source: String

        func fail(_ node: Node?, _ item: String?, _ reason: String, code: PolicyLoadError.Code = .invalid) -> PolicyLoadError {
            PolicyLoadError(code, source: source, line: node?.mark?.line ?? 0, item: item, reason: reason)
        }

        /// The mapping's pairs, refusing duplicate and unknown keys.
        func members(_ node: Node, item: String?, allowed: Set<String>) throws(PolicyLoadError) -> [String: Node] {
            guard case .mapping(let mapping) = node else { throw fail(node, item, "expected a mapping") }
            var members = [String: Node]()
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else { throw fail(key, item, "keys must be plain names") }
                guard allowed.contains(scalar.string) else {
                    throw fail(key, item, "unknown key '\(scalar.string)' (expected one of \(allowed.sorted().joined(separator: ", ")))")
                }
                guard members.updateValue(value, forKey: scalar.string) == nil else {
                    throw fail(key, item, "key '\(scalar.string)' appears twice")
                }
            }
            return members
        }

        func string(_ node: Node?, item: String?, what: String) throws(PolicyLoadError) -> String {
            guard let node, case .scalar(let scalar) = node, !scalar.string.isEmpty else {
                throw fail(node, item, "\(what) must be a non-empty string")
            }
            return scalar.string
        }

        func strings(_ node: Node?, item: String?, what: String) throws(PolicyLoadError) -> [String] {
            guard let node else { return [] }
            if case .scalar = node { return [try string(node, item: item, what: what)] }
            guard case .sequence(let sequence) = node else { throw fail(node, item, "\(what) must be a list of strings") }
            var values = [String]()
            for element in sequence {
                let value = try string(element, item: item, what: what)
                guard !values.contains(value) else { throw fail(element, item, "\(what) lists '\(value)' twice") }
                values.append(value)
            }
            return values
        }

        func isNull(_ node: Node) -> Bool {
            if case .scalar(let scalar) = node { return scalar.string == "~" || scalar.string == "null" || scalar.string.isEmpty }
            return false
        }

        func policy(_ text: String) throws(PolicyLoadError) -> Policy {
            let root: Node
            do {
                guard let composed = try Yams.compose(yaml: text) else { throw fail(nil, nil, "the policy is empty") }
                root = composed
            } catch let error as PolicyLoadError {
                throw error
            } catch let error as YamlError {
                throw fail(nil, nil, "not valid YAML or JSON: \(Self.describe(error))", code: .syntax)
            } catch {
                throw fail(nil, nil, "not valid YAML or JSON", code: .syntax)
            }
            let top = try members(
                root, item: nil, allowed: ["version", "roles", "actions", "anonymous", "routes", "rules", "grants", "egress"])
            guard let version = top["version"], case .scalar(let versionScalar) = version, versionScalar.string == "1" else {
                throw fail(top["version"] ?? root, nil, "version: 1 is required")
            }

            // Roles: the built-ins, plus custom ones ranked as a built-in or unranked.
            var roles = [String: Int?]()
            for (index, name) in Policy.builtInRoles.enumerated() { roles[name] = index }
            if let roleNode = top["roles"] {
                guard case .mapping(let mapping) = roleNode else {
                    throw fail(roleNode, "roles", "expected a mapping of role: built-in rank or ~")
                }
                for (key, value) in mapping {
                    let name = try string(key, item: "roles", what: "a role name")
                    guard (try? IdentifierRule.check(name, kind: "role")) != nil else {
                        throw fail(key, "roles", "role '\(name)' must be 1-128 characters of A-Z a-z 0-9 _ -")
                    }
                    guard roles[name] == nil else { throw fail(key, "roles", "role '\(name)' is defined twice or is built in") }
                    if isNull(value) {
                        roles[name] = .some(nil)
                    } else {
                        let rankName = try string(value, item: "roles", what: "a rank")
                        guard let rank = Policy.builtInRoles.firstIndex(of: rankName) else {
                            throw fail(
                                value, "roles", "role '\(name)' ranks as unknown role '\(rankName)' (use viewer, member, admin, owner or ~)"
                            )
                        }
                        roles[name] = rank
                    }
                }
            }

            let actionList = try strings(top["actions"], item: "actions", what: "an action")
            guard !actionList.isEmpty else { throw fail(top["actions"] ?? root, "actions", "at least one action is required") }
            let actions = Set(actionList)

            var allowsAnonymous = false
            if let node = top["anonymous"] {
                guard case .scalar(let scalar) = node, ["true", "false"].contains(scalar.string) else {
                    throw fail(node, "anonymous", "must be true or false")
                }
                allowsAnonymous = scalar.string == "true"
            }

            let routes = try self.routes(top["routes"], actions: actions)
            let rules = try self.rules(top["rules"], roles: roles, actions: actions, routes: routes, allowsAnonymous: allowsAnonymous)
            let grants = try self.grants(top["grants"], roles: roles)
            let egress = try self.egress(top["egress"], roles: roles)
            return Policy(
                roles: roles, actions: actions, routes: routes, rules: rules, grants: grants, allowsAnonymous: allowsAnonymous,
                egress: egress)
        }

        /// `egress:`: role to the hosts (`host[:port]`, port 443 by default) an agent launched
        /// with that role may reach through `CONNECT`.
        func egress(_ node: Node?, roles: [String: Int?]) throws(PolicyLoadError) -> [String: Set<HostPort>] {
            guard let node else { return [:] }
            guard case .mapping(let mapping) = node else { throw fail(node, "egress", "expected a mapping of role: [host[:port], ...]") }
            var egress = [String: Set<HostPort>]()
            for (key, value) in mapping {
                let role = try string(key, item: "egress", what: "a role")
                guard roles[role] != nil else { throw fail(key, "egress", "unknown role '\(role)'") }
                guard egress[role] == nil else { throw fail(key, "egress", "role '\(role)' appears twice") }
                var hosts = Set<HostPort>()
                for text in try strings(value, item: "egress \(role)", what: "a host") {
                    guard let host = HostPort(text, defaultPort: 443) else {
                        throw fail(value, "egress \(role)", "'\(text.prefix(64))' is not host[:port], such as pypi.org or 10.0.0.5:8443")
                    }
                    hosts.insert(host)
                }
                egress[role] = hosts
            }
            return egress
        }

        func routes(_ node: Node?, actions: Set<String>) throws(PolicyLoadError) -> [PolicyRoute] {
            guard let node, case .sequence(let sequence) = node, !sequence.isEmpty else {
                throw fail(node, "routes", "a list of routes is required")
            }
            var routes = [PolicyRoute]()
            for element in sequence {
                let fields = try members(element, item: "route", allowed: ["id", "method", "path", "action", "resource"])
                let method = try string(fields["method"], item: "route", what: "method").uppercased()
                let pathText = try string(fields["path"], item: "route", what: "path")
                let id =
                    try fields["id"].map { node throws(PolicyLoadError) in try string(node, item: "route", what: "id") }
                    ?? "\(method) \(pathText)"
                guard method == "*" || method.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                    throw fail(fields["method"], id, "method must be a word such as GET, or *")
                }
                let path: PathTemplate
                do { path = try PathTemplate(pathText) } catch { throw fail(fields["path"], id, error.text) }
                let action = try string(fields["action"], item: id, what: "action")
                guard actions.contains(action) else { throw fail(fields["action"], id, "unknown action '\(action)'") }
                var resource: ResourceReference?
                if let resourceNode = fields["resource"] {
                    let parameter = try string(resourceNode, item: id, what: "resource")
                    guard path.parameters.contains(parameter) else {
                        throw fail(resourceNode, id, "resource names {\(parameter)}, which the path does not have")
                    }
                    resource = ResourceReference(type: parameter, parameter: parameter)
                }
                guard !routes.contains(where: { $0.id == id }) else { throw fail(element, id, "duplicate route id") }
                guard !routes.contains(where: { $0.method == method && $0.path.segments == path.segments }) else {
                    throw fail(element, id, "duplicate route: the same method and path appear earlier")
                }
                routes.append(
                    PolicyRoute(
                        id: id, method: method, path: path, action: action, resource: resource, line: element.mark?.line ?? 0
                    ))
            }
            return routes
        }

        func rules(
            _ node: Node?, roles: [String: Int?], actions: Set<String>, routes: [PolicyRoute], allowsAnonymous: Bool
        ) throws(PolicyLoadError) -> [PolicyRule] {
            guard let node, case .sequence(let sequence) = node, !sequence.isEmpty else {
                throw fail(node, "rules", "a list of rules is required (without one, everything is denied)")
            }
            var rules = [PolicyRule]()
            for element in sequence {
                let fields = try members(
                    element, item: "rule",
                    allowed: ["id", "effect", "actions", "methods", "roles", "min_role", "trust", "conditions", "grant", "description"]
                )
                let id = try string(fields["id"], item: "rule", what: "id")
                guard !rules.contains(where: { $0.id == id }) else { throw fail(fields["id"], id, "duplicate rule id") }
                let effectText = try string(fields["effect"], item: id, what: "effect")
                guard let effect = PolicyRule.Effect(rawValue: effectText) else {
                    throw fail(fields["effect"], id, "effect must be permit or forbid")
                }
                var ruleActions: Set<String>?
                if let node = fields["actions"] {
                    let list = try strings(node, item: id, what: "an action")
                    if list != ["*"] {
                        guard !list.isEmpty else { throw fail(node, id, "an empty action list matches no request") }
                        for action in list where !actions.contains(action) {
                            throw fail(node, id, "unknown action '\(action)'")
                        }
                        ruleActions = Set(list)
                    }
                }
                var methods: Set<String>?
                if let node = fields["methods"] {
                    let list = try strings(node, item: id, what: "a method").map { $0.uppercased() }
                    guard !list.isEmpty else { throw fail(node, id, "an empty method list matches no request") }
                    methods = Set(list)
                }
                var roleSet: Set<String>?
                if let node = fields["roles"] {
                    let list = try strings(node, item: id, what: "a role")
                    guard !list.isEmpty else { throw fail(node, id, "an empty role list matches no principal") }
                    for role in list where roles[role] == nil { throw fail(node, id, "unknown role '\(role)'") }
                    roleSet = Set(list)
                }
                var minimumRole: String?
                if let node = fields["min_role"] {
                    let role = try string(node, item: id, what: "min_role")
                    guard let rank = roles[role] else { throw fail(node, id, "unknown role '\(role)'") }
                    guard rank != nil else { throw fail(node, id, "min_role '\(role)' has no rank; name it in roles instead") }
                    minimumRole = role
                }
                var trustLevels: Set<DeviceTrust>?
                if let node = fields["trust"] {
                    let list = try strings(node, item: id, what: "a trust level")
                    guard !list.isEmpty else { throw fail(node, id, "an empty trust list matches no device") }
                    var levels = Set<DeviceTrust>()
                    for name in list {
                        guard let level = DeviceTrust(name: name) else {
                            throw fail(node, id, "unknown trust level '\(name)' (expected anonymous, basic, verified or trusted)")
                        }
                        levels.insert(level)
                    }
                    trustLevels = levels
                }
                var conditions = Set<PolicyCondition>()
                for condition in try strings(fields["conditions"], item: id, what: "a condition") {
                    guard let parsed = PolicyCondition(rawValue: condition) else {
                        throw fail(
                            fields["conditions"], id,
                            "unknown condition '\(condition)' (expected same_team, owner, self, loopback or anonymous)")
                    }
                    conditions.insert(parsed)
                }
                var requiredGrant: GrantLevel?
                if let node = fields["grant"] {
                    let name = try string(node, item: id, what: "grant")
                    guard let level = GrantLevel(name: name), level > .none else {
                        throw fail(node, id, "grant must be view, prompt or all")
                    }
                    requiredGrant = level
                }
                let rule = PolicyRule(
                    id: id, effect: effect, actions: ruleActions, methods: methods, roles: roleSet, minimumRole: minimumRole,
                    conditions: conditions, requiredGrant: requiredGrant, trustLevels: trustLevels, line: element.mark?.line ?? 0
                )
                if let problem = Self.unreachable(rule, routes: routes, allowsAnonymous: allowsAnonymous) {
                    throw fail(element, id, "no request can reach this rule: \(problem)")
                }
                rules.append(rule)
            }
            return rules
        }

        /// Why no request could ever match `rule`, or `nil` when some route can.
        static func unreachable(_ rule: PolicyRule, routes: [PolicyRoute], allowsAnonymous: Bool) -> String? {
            let candidates = routes.filter { route in
                (rule.actions?.contains(route.action) ?? true)
                    && (rule.methods.map { route.method == "*" || $0.contains(route.method) } ?? true)
            }
            guard !candidates.isEmpty else { return "no route maps to its actions and methods" }
            if rule.conditions.contains(.anonymous) {
                guard allowsAnonymous else { return "it allows anonymous requests, but the policy does not enable them (anonymous: true)" }
                guard rule.effect == .permit else { return "anonymous is a condition for permit rules" }
                guard candidates.contains(where: { $0.method == "GET" || $0.method == "HEAD" || $0.method == "*" }) else {
                    return "anonymous access is read-only, and its routes all change state"
                }
            }
            if rule.conditions.contains(.sameTeam), !candidates.contains(where: { $0.path.parameters.contains("team") }) {
                return "same_team needs a route with a {team} parameter"
            }
            if rule.conditions.contains(.owner), !candidates.contains(where: { $0.path.parameters.contains("agent") }) {
                return "owner needs a route with an {agent} parameter"
            }
            if rule.conditions.contains(.selfUser), !candidates.contains(where: { $0.path.parameters.contains("user") }) {
                return "self needs a route with a {user} parameter"
            }
            if rule.trustLevels != nil, rule.conditions.contains(.anonymous) || rule.conditions.contains(.selfUser) {
                return "trust matches only devices, which are neither anonymous nor users"
            }
            if rule.requiredGrant != nil, !candidates.contains(where: { $0.resource != nil }) {
                return "grant needs a route that names a resource"
            }
            return nil
        }

        func grants(_ node: Node?, roles: [String: Int?]) throws(PolicyLoadError) -> [ResourceGrant] {
            guard let node else { return [] }
            guard case .sequence(let sequence) = node else { throw fail(node, "grants", "expected a list of grants") }
            var grants = [ResourceGrant]()
            for element in sequence {
                let fields = try members(element, item: "grant", allowed: ["resource", "agent", "team", "role", "level"])
                let resource = try string(fields["resource"], item: "grant", what: "resource")
                let parts = resource.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw fail(fields["resource"], "grant", "resource must be type:id, such as worktree:wt-1")
                }
                let subjects = ["agent", "team", "role"].filter { fields[$0] != nil }
                guard subjects.count == 1, let key = subjects.first else {
                    throw fail(element, "grant \(resource)", "name exactly one of agent, team or role")
                }
                let name = try string(fields[key], item: "grant \(resource)", what: key)
                let subject: ResourceGrant.Subject
                switch key {
                case "agent": subject = .agent(name)
                case "team": subject = .team(name)
                default:
                    guard roles[name] != nil else { throw fail(fields[key], "grant \(resource)", "unknown role '\(name)'") }
                    subject = .role(name)
                }
                let levelName = try string(fields["level"], item: "grant \(resource)", what: "level")
                guard let level = GrantLevel(name: levelName) else {
                    throw fail(fields["level"], "grant \(resource)", "level must be none, view, prompt or all")
                }
                guard !grants.contains(where: { $0.resource == resource && $0.subject == subject }) else {
                    throw fail(element, "grant \(resource)", "duplicate grant for the same resource and subject")
                }
                grants.append(ResourceGrant(resource: resource, subject: subject, level: level, line: element.mark?.line ?? 0))
            }
            return grants
        }

        static func describe(_ error: YamlError) -> String {
            // YamlError's description quotes the offending text; keep only the first line.
            String(String(describing: error).split(separator: "\n").first ?? "syntax error")
        }
    }
}
