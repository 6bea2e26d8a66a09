import Foundation
import SecurityCore
import Yams

extension ServeSettings {
    /// The keys a provider takes in the configuration file, in the order `config check` prints them.
    static let oidcProviderKeys = [
        "issuer", "client_id", "scopes", "label", "allowed_domains", "allowed_subjects", "role_claim", "roles", "default_role",
        "create_users", "clock_skew",
    ]

    /// The `oidc_providers:` mapping of a configuration file: each provider's name to its settings.
    /// Throws ``AgentHostError`` naming the file, the line and the key of anything wrong. The
    /// client secret is never here (`agenthost oidc set-secret NAME` seals it in the vault).
    ///
    /// ```yaml
    /// oidc_providers:
    ///   google:
    ///     issuer: https://accounts.google.com
    ///     client_id: 1234-abc.apps.googleusercontent.com
    ///     label: Sign in with Google
    ///     allowed_domains: [example.com]
    ///     default_role: member
    /// ```
    static func oidcProviders(from node: Node, path: String) throws -> [OIDCProviderConfiguration] {
        func fail(_ node: Node?, _ message: String) -> AgentHostError {
            AgentHostError(.configuration, "\(path):\(node?.mark?.line ?? 0): \(message)")
        }
        guard case .mapping(let mapping) = node else { throw fail(node, "oidc_providers: expected a mapping of name: settings") }
        var providers: [OIDCProviderConfiguration] = []
        for (nameNode, settingsNode) in mapping {
            guard let name = nameNode.scalar?.string else { throw fail(nameNode, "oidc_providers: each name must be a plain value") }
            let prefix = "oidc_providers.\(name.prefix(64))"
            guard case .mapping(let settings) = settingsNode else {
                throw fail(settingsNode, "\(prefix): expected a mapping of settings (issuer, client_id, ...)")
            }
            var values: [String: (node: Node, key: Node)] = [:]
            for (keyNode, valueNode) in settings {
                guard let key = keyNode.scalar?.string, oidcProviderKeys.contains(key) else {
                    let given = keyNode.scalar?.string.prefix(64) ?? "?"
                    let hint =
                        given == "client_secret" ? " (set it with 'agenthost oidc set-secret \(name.prefix(64))', never in a file)" : ""
                    throw fail(
                        keyNode, "\(prefix): unknown key '\(given)'\(hint); the keys are " + oidcProviderKeys.joined(separator: ", "))
                }
                values[key] = (valueNode, keyNode)
            }
            func scalar(_ key: String) throws -> String? {
                guard let entry = values[key] else { return nil }
                guard let text = entry.node.scalar?.string, !text.isEmpty else {
                    throw fail(entry.key, "\(prefix).\(key): expected one value")
                }
                return text
            }
            func list(_ key: String) throws -> [String]? {
                guard let entry = values[key] else { return nil }
                switch entry.node {
                case .scalar(let scalar): return [scalar.string]
                case .sequence(let sequence):
                    return try sequence.map { element in
                        guard let text = element.scalar?.string else { throw fail(element, "\(prefix).\(key): each item must be a value") }
                        return text
                    }
                default: throw fail(entry.key, "\(prefix).\(key): expected a list of values")
                }
            }
            func role(_ text: String, _ key: String) throws -> Role {
                guard let role = try? Role(text) else {
                    throw fail(values[key]?.key, "\(prefix).\(key): '\(text.prefix(64))' is not a role")
                }
                return role
            }
            for required in ["issuer", "client_id"] where values[required] == nil {
                throw fail(nameNode, "\(prefix): \(required) is required")
            }
            var roles: [String: Role] = [:]
            if let entry = values["roles"] {
                guard case .mapping(let pairs) = entry.node else {
                    throw fail(entry.key, "\(prefix).roles: expected a mapping of claim value: role")
                }
                for (valueNode, roleNode) in pairs {
                    guard let value = valueNode.scalar?.string, let text = roleNode.scalar?.string else {
                        throw fail(valueNode, "\(prefix).roles: each entry is claim value: role")
                    }
                    roles[value] = try role(text, "roles")
                }
            }
            var createUsers = true
            if let text = try scalar("create_users") {
                guard let flag = Bool(text) else { throw fail(values["create_users"]?.key, "\(prefix).create_users: true or false") }
                createUsers = flag
            }
            var skew = Duration.seconds(60)
            if let text = try scalar("clock_skew") {
                guard let seconds = DurationText.seconds(text) else {
                    throw fail(values["clock_skew"]?.key, "\(prefix).clock_skew: '\(text.prefix(32))' is not a duration such as 60s")
                }
                skew = .seconds(seconds)
            }
            let provider = OIDCProviderConfiguration(
                name: name, issuer: try scalar("issuer") ?? "", clientID: try scalar("client_id") ?? "",
                scopes: try list("scopes") ?? ["openid", "email", "profile"], label: try scalar("label"),
                allowedDomains: try list("allowed_domains") ?? [], allowedSubjects: try list("allowed_subjects") ?? [],
                roleClaim: try scalar("role_claim"), roles: roles,
                defaultRole: try scalar("default_role").map { try role($0, "default_role") },
                createUsers: createUsers, clockSkew: skew)
            do {
                try provider.validate()
            } catch let error as AgentHostError {
                throw fail(nameNode, error.reason)
            }
            providers.append(provider)
        }
        return providers
    }

    /// The providers as the YAML `config check` prints, one line per setting.
    static func rendered(_ providers: [OIDCProviderConfiguration]) -> [String] {
        guard !providers.isEmpty else { return ["# oidc_providers: none, so people sign in with a password only"] }
        var lines = ["oidc_providers:"]
        for provider in providers {
            lines.append("  \(provider.name):")
            lines.append("    issuer: \(quoted(provider.issuer))")
            lines.append("    client_id: \(quoted(provider.clientID))")
            lines.append("    scopes: [\(provider.scopes.map(quoted).joined(separator: ", "))]")
            lines.append("    label: \(quoted(provider.label))")
            if !provider.allowedDomains.isEmpty {
                lines.append("    allowed_domains: [\(provider.allowedDomains.map(quoted).joined(separator: ", "))]")
            }
            if !provider.allowedSubjects.isEmpty {
                lines.append("    allowed_subjects: [\(provider.allowedSubjects.map(quoted).joined(separator: ", "))]")
            }
            if let claim = provider.roleClaim { lines.append("    role_claim: \(quoted(claim))") }
            for (value, role) in provider.roles.sorted(by: { $0.key < $1.key }) {
                if value == provider.roles.keys.sorted().first { lines.append("    roles:") }
                lines.append("      \(quoted(value)): \(role.rawValue)")
            }
            if let role = provider.defaultRole { lines.append("    default_role: \(role.rawValue)") }
            lines.append("    create_users: \(provider.createUsers)")
        }
        return lines
    }
}
