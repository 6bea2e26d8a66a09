import Foundation
package import Logging
import SecurityCore
import Yams

/// `agenthost serve`'s settings from every place they may be set: the command line, then the
/// environment, then a configuration file, then the defaults.
///
/// Each setting has one name per place: `max_ttl` in the file, `--max-ttl` on the command line and
/// `AGENTHOST_MAX_TTL` in the environment (the database's variable is `AGENTHOST_DATABASE_URL`).
/// A list set in one place replaces the list of every place below it; in a variable, a list is
/// comma-separated. Relative paths in a file (`policy`, `data_dir`) are read from the file's
/// folder. Values are checked once the places are merged, and an error names where the bad value
/// came from: the file and line, the variable or the option.
///
/// ```swift
/// let settings = try ServeSettings.defaults
///     .overlaid(by: ServeSettings(file: "agenthost.yaml"))
///     .overlaid(by: ServeSettings(environment: ProcessInfo.processInfo.environment))
/// let resolved = try settings.resolve()
/// ```
package struct ServeSettings: Sendable {
    /// Where a value came from.
    package enum Origin: Sendable, Equatable {
        case defaultValue
        case file(path: String, line: Int)
        case environment(String)
        case commandLine
    }

    /// One setting's value, a scalar being a list of one, and where it came from.
    package struct Value: Sendable, Equatable {
        package var items: [String]
        package var origin: Origin
    }

    /// A setting: its names and kind.
    package struct Key: Sendable {
        package let name: String
        package let variable: String
        package let isList: Bool
        /// A path that a file may give relative to its own folder.
        package let isPath: Bool
        package let defaultValue: [String]?

        init(_ name: String, variable: String? = nil, isList: Bool = false, isPath: Bool = false, default value: [String]?) {
            self.name = name
            self.variable = variable ?? "AGENTHOST_" + name.uppercased()
            self.isList = isList
            self.isPath = isPath
            self.defaultValue = value
        }

        /// The command-line option.
        package var option: String { "--" + name.replacingOccurrences(of: "_", with: "-") }
    }

    /// Every setting, in the order `config check` prints them.
    package static let keys: [Key] = {
        let limits = ConnectionLimits()
        return [
            Key("host", default: ["127.0.0.1"]),
            Key("port", default: ["8080"]),
            Key("mode", default: [AuthenticationMode.secure.rawValue]),
            Key("allow_untrusted_network", default: ["false"]),
            Key("log_level", default: ["info"]),
            Key("policy", isPath: true, default: nil),
            Key("trusted_proxy", isList: true, default: []),
            Key("rate_limit", isList: true, default: []),
            Key("rate_limit_per_server", isList: true, default: []),
            Key("metrics_public", default: ["false"]),
            Key("cors_origin", isList: true, default: []),
            Key("data_dir", isPath: true, default: [".agenthost"]),
            Key("database", variable: AgentHostCLI.databaseVariable, default: nil),
            Key("max_ttl", default: ["7d"]),
            Key("lease_ttl", default: ["\(AgentRuns.defaultLeaseTTL)s"]),
            Key("connect_port", default: nil),
            Key("max_head_bytes", default: ["\(limits.headBytes)"]),
            Key("max_request_line_bytes", default: ["\(limits.requestLineBytes)"]),
            Key("max_header_fields", default: ["\(limits.headerFields)"]),
            Key("head_timeout", default: ["\(limits.headTimeout.components.seconds)s"]),
            Key("idle_timeout", default: ["\(limits.idleTimeout.components.seconds)s"]),
            Key("body_timeout", default: ["\(limits.bodyTimeout.components.seconds)s"]),
            Key("max_connections", default: ["\(limits.connections)"]),
            Key("otlp_endpoint", default: nil),
            Key("portal", default: ["false"]),
            Key("portal_title", default: ["AgentHost"]),
            Key("portal_logo_text", default: ["AgentHost"]),
            Key("portal_url", default: nil),
            Key("home_url", default: nil),
            Key("protected_host", isList: true, default: []),
            Key("cookie_domain", default: nil),
            Key("session_idle_timeout", default: ["30m"]),
            Key("session_lifetime", default: ["12h"]),
            Key("totp_required_role", isList: true, default: []),
            Key("password_sign_in", default: ["true"]),
            Key("identity_assertion", default: ["false"]),
            Key("identity_assertion_issuer", default: ["agenthost"]),
            Key("identity_assertion_ttl", default: ["60s"]),
        ]
    }()

    /// The values set here, by setting name.
    package private(set) var values: [String: Value]
    /// The upstreams of the proxy (a configuration file's `upstreams:` mapping; no option or
    /// variable sets them); `nil` when not set here.
    package private(set) var upstreams: [Upstream]?
    /// The single sign-on providers (a configuration file's `oidc_providers:` mapping; no option
    /// or variable sets them); `nil` when not set here.
    package private(set) var oidcProviders: [OIDCProviderConfiguration]?

    /// Values given directly (by setting name), such as the command line's options.
    package init(_ values: [String: [String]], origin: Origin) throws {
        var checked = [String: Value]()
        for (name, items) in values {
            guard Self.key(name) != nil else { throw AgentHostError(.configuration, "there is no setting '\(name.prefix(64))'") }
            checked[name] = Value(items: items, origin: origin)
        }
        self.values = checked
    }

    /// Every setting's default; `policy`, `database` and `otlp_endpoint` have none.
    package static let defaults = ServeSettings(
        values: Dictionary(
            uniqueKeysWithValues: keys.compactMap { key in
                key.defaultValue.map { (key.name, Value(items: $0, origin: .defaultValue)) }
            }))

    /// No settings at all.
    package static let empty = ServeSettings(values: [:])

    private init(values: [String: Value], upstreams: [Upstream]? = nil, oidcProviders: [OIDCProviderConfiguration]? = nil) {
        self.values = values
        self.upstreams = upstreams
        self.oidcProviders = oidcProviders
    }

    /// The settings `environment` sets. An empty variable counts as unset.
    package init(environment: [String: String]) {
        var values = [String: Value]()
        for key in Self.keys {
            guard let text = environment[key.variable], !text.isEmpty else { continue }
            let items =
                key.isList
                ? text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                : [text]
            values[key.name] = Value(items: items, origin: .environment(key.variable))
        }
        self.values = values
    }

    /// The settings in the YAML file at `path`: a mapping of setting names to a value or, for a
    /// list, a sequence of values. Throws ``AgentHostError`` naming the line of an unknown or
    /// repeated setting, a value of the wrong shape, or YAML that does not parse.
    package init(file path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AgentHostError(.configuration, "\(path): cannot read the configuration file")
        }
        try self.init(yaml: text, path: path)
    }

    /// ``init(file:)`` for text already read; `path` names it in errors and anchors relative paths.
    package init(yaml text: String, path: String) throws {
        func fail(_ node: Node?, _ message: String) -> AgentHostError {
            AgentHostError(.configuration, "\(path):\(node?.mark?.line ?? 0): \(message)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
            let key = duplicates.sorted().first ?? ""
            let line = Self.secondLine(of: key, in: text) ?? context.mark.line
            throw AgentHostError(.configuration, "\(path):\(line): \(key.prefix(64)) is set twice")
        } catch let error as YamlError {
            throw AgentHostError(
                .configuration, "\(path)\(Self.line(of: error).map { ":\($0)" } ?? ""): not valid YAML: \(Self.describe(error))")
        }
        guard let root else {
            values = [:]
            return
        }
        guard case .mapping(let mapping) = root else { throw fail(root, "expected a mapping of setting: value") }
        let folder = (path as NSString).deletingLastPathComponent
        var values = [String: Value]()
        for (keyNode, valueNode) in mapping {
            if keyNode.scalar?.string == "upstreams" {
                upstreams = try Self.upstreams(from: valueNode, path: path)
                continue
            }
            if keyNode.scalar?.string == "oidc_providers" {
                oidcProviders = try Self.oidcProviders(from: valueNode, path: path)
                continue
            }
            guard case .scalar(let keyScalar) = keyNode, let key = Self.key(keyScalar.string) else {
                let name = keyNode.scalar?.string.prefix(64) ?? "?"
                throw fail(
                    keyNode,
                    "unknown setting '\(name)'; the settings are \(Self.keys.map(\.name).joined(separator: ", ")), upstreams and oidc_providers"
                )
            }
            guard values[key.name] == nil else { throw fail(keyNode, "\(key.name) is set twice") }
            var items: [String]
            switch valueNode {
            case .scalar(let scalar) where !Self.isNull(scalar):
                items = [scalar.string]
            case .sequence(let sequence) where key.isList:
                items = try sequence.map { element in
                    guard case .scalar(let scalar) = element else { throw fail(element, "\(key.name): each item must be a value") }
                    return scalar.string
                }
            case .sequence:
                throw fail(valueNode, "\(key.name) takes one value, not a list")
            case .scalar:
                throw fail(valueNode, "\(key.name) has no value")
            default:
                throw fail(valueNode, "\(key.name) takes \(key.isList ? "a list of values" : "one value"), not a mapping")
            }
            if key.isPath, folder != "" {
                items = items.map { $0.hasPrefix("/") ? $0 : (folder as NSString).appendingPathComponent($0) }
            }
            values[key.name] = Value(items: items, origin: .file(path: path, line: keyNode.mark?.line ?? 0))
        }
        self.values = values
    }

    /// An unquoted empty value, `~` or `null`.
    private static func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// These settings with `higher`'s values in place of theirs.
    package func overlaid(by higher: ServeSettings) -> ServeSettings {
        ServeSettings(
            values: values.merging(higher.values) { _, higher in higher }, upstreams: higher.upstreams ?? upstreams,
            oidcProviders: higher.oidcProviders ?? oidcProviders)
    }

    /// The setting called `name`.
    package static func key(_ name: String) -> Key? {
        keys.first { $0.name == name }
    }

    /// Where `name`'s value came from, for an error message.
    package func source(of name: String) -> String {
        guard let value = values[name], let key = Self.key(name) else { return name }
        switch value.origin {
        case .defaultValue: return "\(name) (default)"
        case .file(let path, let line): return "\(path):\(line): \(name)"
        case .environment(let variable): return variable
        case .commandLine: return key.option
        }
    }

    /// The line where top-level `key` is set a second time (Yams names only the mapping's line).
    private static func secondLine(of key: String, in text: String) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let setting = lines.indices.filter { index in
            lines[index].hasPrefix(key) && lines[index].dropFirst(key.count).drop { $0 == " " }.first == ":"
        }
        return setting.dropFirst().first.map { $0 + 1 }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func describe(_ error: YamlError) -> String {
        // Yams' descriptions quote the offending text; keep the first line and bound it.
        String("\(error)".split(separator: "\n").first?.prefix(200) ?? "")
    }
}

// MARK: - Resolving

extension ServeSettings {
    /// What the settings come to: a server configuration, and how much the executable logs.
    package struct Resolved: Sendable {
        package var configuration: AgentHostConfiguration
        package var logLevel: Logger.Level
        /// Where traces and metrics go over OTLP/HTTP (`http(s)://host:port`, no trailing slash);
        /// `nil` for no export.
        package var otlpEndpoint: String?
    }

    /// Checks every value and builds the configuration. Throws ``AgentHostError`` naming the first
    /// bad value's place (file and line, variable or option) and what is wrong with it.
    package func resolve() throws -> Resolved {
        func one(_ name: String) -> String? { values[name]?.items.last }
        func list(_ name: String) -> [String] { values[name]?.items ?? [] }
        func fail(_ name: String, _ message: String) -> AgentHostError {
            AgentHostError(.configuration, "\(source(of: name)): \(message)")
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let text = one(name), let value = Int(text), range.contains(value) else {
                throw fail(name, "'\(one(name)?.prefix(64) ?? "")' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        func boolean(_ name: String) throws -> Bool {
            switch one(name) {
            case "true": return true
            case "false", nil: return false
            case let other?: throw fail(name, "'\(other.prefix(64))' is not true or false")
            }
        }
        func duration(_ name: String) throws -> Duration {
            let parsed: Duration
            do {
                parsed = try DurationParser.parse(one(name) ?? "")
            } catch let error as AgentHostError {
                throw fail(name, error.reason)
            }
            guard parsed > .zero else { throw fail(name, "must be more than 0") }
            return parsed
        }

        guard let host = one("host"), !host.isEmpty else { throw fail("host", "is empty") }
        let port = try integer("port", AgentHostConfiguration.portRange)
        guard let mode = AuthenticationMode(rawValue: one("mode") ?? "") else {
            throw fail("mode", "'\(one("mode")?.prefix(64) ?? "")' is not secure or header-trust")
        }
        guard let logLevel = Logger.Level(rawValue: one("log_level") ?? "") else {
            throw fail("log_level", "must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard let dataDirectory = one("data_dir"), !dataDirectory.isEmpty else { throw fail("data_dir", "is empty") }
        let maximumLifetime = try duration("max_ttl")
        let tokenPolicy: TokenPolicy
        do {
            tokenPolicy = try TokenPolicy(maximumLifetime: maximumLifetime, defaultLifetime: min(.seconds(12 * 3_600), maximumLifetime))
        } catch let error as TokenError {
            throw fail("max_ttl", error.reason)
        }
        var proxies = [IPNetwork]()
        for proxy in list("trusted_proxy") {
            guard let network = IPNetwork(proxy) else {
                throw fail("trusted_proxy", "'\(proxy.prefix(64))' is not an address or CIDR such as 10.0.0.0/8 (host bits must be zero)")
            }
            proxies.append(network)
        }
        let origins = list("cors_origin")
        if !origins.isEmpty {
            do {
                _ = try CORSPolicy(allowedOrigins: origins)
            } catch let error as CORSConfigurationError {
                throw fail("cors_origin", error.reason)
            }
        }
        let policy: Policy?
        do {
            policy = try one("policy").map { path throws(PolicyLoadError) in try PolicyLoader.load(contentsOf: path) }
        } catch {
            throw fail("policy", "\(error)")
        }
        if let database = one("database"), !Self.isDatabaseURL(database) {
            throw fail("database", "must start with postgres://, postgresql:// or sqlite:")
        }
        let otlpEndpoint = one("otlp_endpoint").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        if let otlpEndpoint {
            guard let url = URLComponents(string: otlpEndpoint), ["http", "https"].contains(url.scheme), url.host?.isEmpty == false,
                url.query == nil, url.user == nil, url.password == nil
            else {
                throw fail(
                    "otlp_endpoint",
                    "'\(Self.redactedURL(otlpEndpoint).prefix(64))' is not an http:// or https:// URL such as http://127.0.0.1:4318 (credentials go in OTEL_EXPORTER_OTLP_HEADERS)"
                )
            }
        }

        var configuration = AgentHostConfiguration(
            host: host, port: port, dataDirectory: dataDirectory, mode: mode,
            allowUntrustedNetwork: try boolean("allow_untrusted_network"), tokenPolicy: tokenPolicy, policy: policy,
            trustedProxies: proxies, corsOrigins: origins
        )
        configuration.policyFile = one("policy")
        configuration.databaseURL = one("database")
        configuration.metricsPublic = try boolean("metrics_public")
        let leaseTTL = try duration("lease_ttl")
        guard (.seconds(3)...(.seconds(3600))).contains(leaseTTL) else {
            throw fail("lease_ttl", "must be from 3s to 1h: a launcher renews its lease every third of it")
        }
        configuration.leaseTTL = leaseTTL
        if one("connect_port") != nil {
            let connectPort = try integer("connect_port", AgentHostConfiguration.portRange)
            guard connectPort == 0 || connectPort != port else { throw fail("connect_port", "must differ from port") }
            configuration.connectPort = connectPort
        }
        configuration.tracing = otlpEndpoint != nil
        configuration.upstreams = upstreams ?? []
        // Reads each CA file, as the server will.
        if !configuration.upstreams.isEmpty { _ = try UpstreamProxy(upstreams: configuration.upstreams) }
        do {
            configuration.rateLimitScopes = try AgentHostConfiguration.rateLimitScopes(
                RateLimitScope.agentHost, overriddenBy: list("rate_limit"))
        } catch let error as AgentHostError {
            throw fail("rate_limit", error.reason)
        }
        do {
            configuration.rateLimitScopes = try AgentHostConfiguration.rateLimitScopes(
                configuration.rateLimitScopes, perServer: list("rate_limit_per_server"))
        } catch let error as AgentHostError {
            throw fail("rate_limit_per_server", error.reason)
        }
        configuration.connectionLimits = ConnectionLimits(
            headBytes: try integer("max_head_bytes", ConnectionLimits.headBytesRange),
            requestLineBytes: try integer(
                "max_request_line_bytes", ConnectionLimits.requestLineBytesFloor...ConnectionLimits.headBytesRange.upperBound),
            headerFields: try integer("max_header_fields", ConnectionLimits.headerFieldsRange),
            headTimeout: try duration("head_timeout"), idleTimeout: try duration("idle_timeout"),
            bodyTimeout: try duration("body_timeout"), connections: try integer("max_connections", ConnectionLimits.connectionsRange)
        )
        if try boolean("portal") {
            var portal = PortalConfiguration(
                title: one("portal_title") ?? "AgentHost", logoText: one("portal_logo_text") ?? "AgentHost", publicURL: one("portal_url"),
                homeURL: one("home_url"), protectedHosts: list("protected_host"), cookieDomain: one("cookie_domain"),
                idleTimeout: try duration("session_idle_timeout"), lifetime: try duration("session_lifetime")
            )
            portal.secondFactorRoles = list("totp_required_role")
            portal.passwordSignIn = try boolean("password_sign_in")
            for role in portal.secondFactorRoles where (try? Role(role)) == nil {
                throw fail("totp_required_role", "'\(role.prefix(64))' is not a role (1-128 of A-Z a-z 0-9 _ -)")
            }
            do {
                try portal.validate()
            } catch let error as AgentHostError {
                let setting =
                    ["cookie_domain", "session_lifetime", "portal_url", "home_url", "protected_host", "portal_title"]
                    .first { error.reason.hasPrefix($0) || error.reason.contains($0) } ?? "portal"
                throw fail(setting, error.reason)
            }
            configuration.portal = portal
        }
        if try boolean("identity_assertion") {
            let assertion = IdentityAssertionConfiguration(
                issuer: one("identity_assertion_issuer") ?? "agenthost", lifetime: try duration("identity_assertion_ttl"))
            do {
                try assertion.validate()
            } catch let error as AgentHostError {
                throw fail(
                    error.reason.hasPrefix("identity_assertion_ttl") ? "identity_assertion_ttl" : "identity_assertion_issuer", error.reason)
            }
            configuration.identityAssertion = assertion
        }
        configuration.oidcProviders = oidcProviders ?? []
        do {
            try configuration.validate()
        } catch let error as AgentHostError {
            throw AgentHostError(.configuration, error.reason)
        }
        return Resolved(configuration: configuration, logLevel: logLevel, otlpEndpoint: otlpEndpoint)
    }

    static func isDatabaseURL(_ text: String) -> Bool {
        ["postgres://", "postgresql://", "sqlite:"].contains { text.hasPrefix($0) }
    }
}

// MARK: - Showing

extension ServeSettings {
    /// The settings as a YAML file, one per line with where it came from, secrets redacted (a
    /// database password reads `REDACTED`): what `agenthost config check` prints.
    package func rendered() -> [String] {
        Self.keys.map { key -> String in
            guard let value = values[key.name] else {
                let meaning =
                    switch key.name {
                    case "policy": "the embedded default policy"
                    case "otlp_endpoint": "no traces, and metrics only at GET /metrics"
                    case "portal_url": "browsers sign in on the host they asked for, under /auth/"
                    case "home_url": "the portal's own sessions page"
                    case "cookie_domain": "the session cookie is for one host (__Host-)"
                    default: "sqlite:agenthost.sqlite in the data directory"
                    }
                return "# \(key.name): not set, so \(meaning)"
            }
            var items = value.items
            if key.name == "database" || key.name == "otlp_endpoint" { items = items.map(Self.redactedURL) }
            let text =
                key.isList
                ? "[" + items.map(Self.quoted).joined(separator: ", ") + "]"
                : Self.quoted(items.last ?? "")
            let line = "\(key.name): \(text)"
            let padding = String(repeating: " ", count: max(1, 44 - line.count))
            return line + padding + "# " + describe(value.origin, key: key)
        } + Self.rendered(upstreams ?? []) + Self.rendered(oidcProviders ?? [])
    }

    /// Warnings about where secrets sit: a database password in a file that others may read, or
    /// on the command line, where `ps` shows it.
    package func warnings() -> [String] {
        guard let value = values["database"], let url = value.items.last, URLComponents(string: url)?.password != nil else {
            return []
        }
        switch value.origin {
        case .commandLine:
            return [
                "--database holds a password, which other local users can read from the process list; set \(AgentHostCLI.databaseVariable) instead"
            ]
        case .file(let path, _):
            let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
            guard mode & 0o077 != 0 else { return [] }
            return ["\(path) holds a database password and other users may read it; chmod 600 it"]
        default:
            return []
        }
    }

    private func describe(_ origin: Origin, key: Key) -> String {
        switch origin {
        case .defaultValue: "default"
        case .file(let path, let line): "\(path):\(line)"
        case .environment(let variable): variable
        case .commandLine: key.option
        }
    }

    /// A double-quoted YAML scalar (JSON's escapes, which YAML reads the same way).
    static func quoted(_ text: String) -> String {
        var writer = JSONWriter(capacity: text.utf8.count + 2)
        writer.string(text)
        return writer.text
    }

    /// `url` with any password replaced by `REDACTED`.
    static func redactedURL(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "REDACTED"
        return components.string ?? "REDACTED"
    }
}

// MARK: - Loading

extension ServeSettings {
    /// The variable naming a configuration file when `--config` does not.
    package static let configVariable = "AGENTHOST_CONFIG"

    /// Where a server's settings come from, kept so that SIGHUP can read them again.
    package struct Source: Sendable {
        /// The file `--config` names; `nil` looks at `AGENTHOST_CONFIG`, then runs without one.
        package var configFile: String?
        package var environment: [String: String]
        /// The options given on the command line.
        package var commandLine: ServeSettings

        package init(configFile: String?, environment: [String: String], commandLine: ServeSettings = .empty) {
            self.configFile = configFile
            self.environment = environment
            self.commandLine = commandLine
        }

        /// The file in use, if any.
        package var file: String? {
            configFile ?? environment[ServeSettings.configVariable].flatMap { $0.isEmpty ? nil : $0 }
        }

        /// The defaults, then the file, then the environment, then the command line, each over the
        /// one before. Reads the file anew on every call.
        package func load() throws -> ServeSettings {
            var settings = ServeSettings.defaults
            if let file { settings = settings.overlaid(by: try ServeSettings(file: file)) }
            return settings.overlaid(by: ServeSettings(environment: environment)).overlaid(by: commandLine)
        }
    }
}
