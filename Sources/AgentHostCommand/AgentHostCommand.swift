import AgentHost
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SecurityCore
import SecurityStore
import ServiceLifecycle
import UnixSignals

/// The `agenthost` command line: serve, mint tokens, manage keys.
@main
struct AgentHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agenthost",
        abstract: "Agent identity, tokens and request security for self-hosted agent platforms.",
        subcommands: [
            Serve.self, ConfigCommand.self, Token.self, Keys.self, VaultCommand.self, UsersCommand.self, SetupTokenCommand.self,
            AuditCommand.self, ScrubCommand.self, GitCommand.self, PolicyCommand.self, RunCommand.self, BridgeCommand.self,
            OIDCCommand.self,
        ]
    )
}

/// `--data-dir`, shared by every subcommand that touches the keyring.
struct DataDirectoryOption: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory (default: $AGENTHOST_DATA_DIR or ./.agenthost).")
    var dataDirectory: String?

    func resolved(_ environment: [String: String]) -> String {
        dataDirectory ?? AgentHostConfiguration.defaultDataDirectory(environment: environment)
    }
}

/// `--database`, shared by `serve` and the `vault` commands.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .customLong("database"),
        help:
            "postgres://user:password@host:port/db or sqlite:PATH (default: $AGENTHOST_DATABASE_URL, else agenthost.sqlite in the data directory). Prefer the variable for URLs with a password: argv is visible to other users."
    )
    var database: String?

    /// Where the command finds its keyring and store: these options, else the variables.
    func place(data: DataDirectoryOption) -> AgentHostCLI.Place {
        AgentHostCLI.Place(dataDirectory: data.dataDirectory, database: database, environment: ProcessInfo.processInfo.environment)
    }
}

/// `token mint`'s `--max-ttl`, with the default `serve` applies.
struct TokenPolicyOptions: ParsableArguments {
    @Option(name: .customLong("max-ttl"), help: "Longest token lifetime minted or accepted (e.g. 7d, 12h).")
    var maximumLifetime: String = "7d"

    func policy() throws -> TokenPolicy {
        let maximum = try DurationParser.parse(maximumLifetime)
        let standard = min(Duration.seconds(12 * 3_600), maximum)
        return try TokenPolicy(maximumLifetime: maximum, defaultLifetime: standard)
    }
}

/// `serve`'s limits on each connection (Docs/OPERATING.md, "Connection limits").
struct ConnectionLimitOptions: ParsableArguments {
    @Option(
        name: .customLong("max-head-bytes"),
        help: "Largest request head (request line and headers) in bytes; larger is answered 431 (default \(ConnectionLimits().headBytes)).")
    var headBytes: Int?
    @Option(
        name: .customLong("max-request-line-bytes"),
        help: "Longest request line in bytes; longer is answered 414 (default \(ConnectionLimits().requestLineBytes)).")
    var requestLineBytes: Int?
    @Option(
        name: .customLong("max-header-fields"),
        help: "Most header fields in one request; more is answered 431 (default \(ConnectionLimits().headerFields)).")
    var headerFields: Int?
    @Option(name: .customLong("head-timeout"), help: "Time a client has to send a request head, then 408 and closed (default 10s).")
    var headTimeout: String?
    @Option(name: .customLong("idle-timeout"), help: "Time a keep-alive connection may wait between requests, then closed (default 75s).")
    var idleTimeout: String?
    @Option(name: .customLong("body-timeout"), help: "Time a request body may pause between two reads, then closed (default 30s).")
    var bodyTimeout: String?
    @Option(
        name: .customLong("max-connections"),
        help: "Most connections open at once; past it a new one is answered 503 and closed (default \(ConnectionLimits().connections)).")
    var connections: Int?

    var given: [String: String?] {
        [
            "max_head_bytes": headBytes.map(String.init), "max_request_line_bytes": requestLineBytes.map(String.init),
            "max_header_fields": headerFields.map(String.init), "head_timeout": headTimeout, "idle_timeout": idleTimeout,
            "body_timeout": bodyTimeout, "max_connections": connections.map(String.init),
        ]
    }
}

/// `serve`'s sign-in portal for people at a browser (Docs/SIGN_IN.md).
struct PortalOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo, help: "Serve the sign-in portal under /auth/ and accept its session cookie at /auth/verify (default off).")
    var portal: Bool?
    @Option(name: .customLong("portal-title"), help: "The portal pages' title (default AgentHost).") var title: String?
    @Option(name: .customLong("portal-logo-text"), help: "The short text shown as the portal's logo (default AgentHost).")
    var logoText: String?
    @Option(
        name: .customLong("portal-url"),
        help: "The portal's public origin (https://auth.example.com); by default browsers sign in on the host they asked for.")
    var publicURL: String?
    @Option(name: .customLong("home-url"), help: "Where a browser goes after signing in without a usable return URL.")
    var homeURL: String?
    @Option(name: .customLong("protected-host"), help: "A host a browser may return to after signing in; repeat for more.")
    var protectedHosts: [String] = []
    @Option(
        name: .customLong("cookie-domain"),
        help: "A domain whose hosts share the session cookie (example.com); by default the cookie is for one host.")
    var cookieDomain: String?
    @Option(name: .customLong("session-idle-timeout"), help: "How long a session may go unused (default 30m).")
    var idleTimeout: String?
    @Option(name: .customLong("session-lifetime"), help: "How long a session lasts at most (default 12h).") var lifetime: String?
    @Option(name: .customLong("totp-required-role"), help: "A role that must sign in with a second factor (TOTP); repeat for more.")
    var secondFactorRoles: [String] = []
    @Flag(
        name: .customLong("password-sign-in"), inversion: .prefixedNo,
        help: "Offer the password form on the sign-in page (default on; off leaves the oidc_providers' buttons).")
    var passwordSignIn: Bool?

    var given: [String: String?] {
        [
            "password_sign_in": passwordSignIn.map(String.init),
            "portal": portal.map(String.init), "portal_title": title, "portal_logo_text": logoText, "portal_url": publicURL,
            "home_url": homeURL, "cookie_domain": cookieDomain, "session_idle_timeout": idleTimeout, "session_lifetime": lifetime,
        ]
    }
}

/// `serve`'s signed identity for the platform behind forward auth (Docs/FORWARD_AUTH.md).
struct AssertionOptions: ParsableArguments {
    @Flag(
        name: .customLong("identity-assertion"), inversion: .prefixedNo,
        help: "Sign X-Auth-Assertion (a JWT) into every allowed /auth/verify answer and serve its keys at /.well-known/jwks.json.")
    var enabled: Bool?
    @Option(name: .customLong("identity-assertion-issuer"), help: "The assertion's iss (default agenthost).") var issuer: String?
    @Option(name: .customLong("identity-assertion-ttl"), help: "How long an assertion is valid, 10s to 1h (default 60s).")
    var lifetime: String?

    var given: [String: String?] {
        ["identity_assertion": enabled.map(String.init), "identity_assertion_issuer": issuer, "identity_assertion_ttl": lifetime]
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the AgentHost HTTP server.",
        discussion: """
            Every option can also be set in a YAML file (--config) and in a variable: --max-ttl is max_ttl in the file \
            and AGENTHOST_MAX_TTL in the environment. Options win over variables, variables over the file, the file \
            over the defaults. 'agenthost config check' shows what is in force and where it came from. SIGHUP reloads \
            the keyring, the policy and the rate limits.
            """
    )

    @Option(help: "YAML configuration file (default: $AGENTHOST_CONFIG, else none).") var config: String?
    @Option(help: "Address to bind (default 127.0.0.1).") var host: String?
    @Option(help: "Port to bind; 0 picks a free one (default 8080).") var port: Int?
    @Option(help: "secure (a credential is required; the default) or header-trust (trusted LAN only).") var mode: String?
    @Flag(inversion: .prefixedNo, help: "Allow header-trust mode on a non-loopback address.") var allowUntrustedNetwork: Bool?
    @Option(help: "Log level: trace, debug, info (the default), notice, warning, error, critical.") var logLevel: String?
    @Option(help: "Policy file (YAML or JSON); the embedded default policy when not given.") var policy: String?
    @Option(
        name: .customLong("trusted-proxy"),
        help: "A proxy (address or CIDR) whose X-Forwarded-For is believed and that may call /auth/verify; repeat for more.")
    var trustedProxies: [String] = []
    @Option(
        name: .customLong("rate-limit"),
        help:
            "Change a rate-limit scope: NAME=LIMIT/PERIOD[/BURST], such as general=600/1m; repeat for more. Scopes: general, sensitive, auth-failures, login-failures."
    )
    var rateLimits: [String] = []
    @Option(
        name: .customLong("rate-limit-per-server"),
        help: "A rate-limit scope whose budgets each server keeps to itself when several share a PostgreSQL store; repeat for more.")
    var perServerScopes: [String] = []
    @Flag(
        name: .customLong("metrics-public"), inversion: .prefixedNo,
        help: "Serve GET /metrics without a credential to every client, not only to local ones.")
    var metricsPublic: Bool?
    @Option(name: .customLong("cors-origin"), help: "A browser origin (https://host[:port]) allowed to call the API; repeat for more.")
    var corsOrigins: [String] = []
    @Option(name: .customLong("max-ttl"), help: "Longest token lifetime minted or accepted (default 7d).") var maximumLifetime: String?
    @Option(name: .customLong("lease-ttl"), help: "How long an agenthost run lease lives past its last renewal (default 30s).")
    var leaseTTL: String?
    @Option(
        name: .customLong("connect-port"),
        help: "Open the CONNECT proxy for agents launched by agenthost run on this port (HTTPS_PROXY; default: none).")
    var connectPort: Int?
    @Option(
        name: .customLong("otlp-endpoint"),
        help: "Send traces and metrics over OTLP/HTTP to this collector (http://host:4318); OTEL_EXPORTER_OTLP_* variables tune it.")
    var otlpEndpoint: String?
    @OptionGroup var data: DataDirectoryOption
    @OptionGroup var store: DatabaseOption
    @OptionGroup var connections: ConnectionLimitOptions
    @OptionGroup(title: "Sign-in portal") var portal: PortalOptions
    @OptionGroup(title: "Signed identity") var assertion: AssertionOptions

    /// The options given, by setting name.
    func commandLine() throws -> ServeSettings {
        var given: [String: [String]] = [:]
        let single: [String: String?] = [
            "host": host, "port": port.map(String.init), "mode": mode, "allow_untrusted_network": allowUntrustedNetwork.map(String.init),
            "log_level": logLevel, "policy": policy, "metrics_public": metricsPublic.map(String.init), "max_ttl": maximumLifetime,
            "lease_ttl": leaseTTL, "connect_port": connectPort.map(String.init),
            "data_dir": data.dataDirectory, "database": store.database, "otlp_endpoint": otlpEndpoint,
        ].merging(connections.given) { first, _ in first }.merging(portal.given) { first, _ in first }
            .merging(assertion.given) { first, _ in first }
        for case let (name, value?) in single { given[name] = [value] }
        for (name, list) in [
            ("trusted_proxy", trustedProxies), ("rate_limit", rateLimits), ("rate_limit_per_server", perServerScopes),
            ("cors_origin", corsOrigins), ("protected_host", portal.protectedHosts),
            ("totp_required_role", portal.secondFactorRoles),
        ]
        where !list.isEmpty {
            given[name] = list
        }
        return try ServeSettings(given, origin: .commandLine)
    }

    func run() async throws {
        let source = ServeSettings.Source(
            configFile: config, environment: ProcessInfo.processInfo.environment, commandLine: try commandLine())
        let settings = try source.load()
        let resolved = try settings.resolve()

        // Every log line passes through the redactor, which learns each secret as it is loaded.
        let redactor = SecretRedactor()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = resolved.logLevel
            return RedactingLogHandler(wrapping: handler, redactor: redactor)
        }
        let logger = Logger(label: "agenthost")
        if let file = source.file { logger.info("configuration file read", metadata: ["path": "\(file)"]) }
        for warning in settings.warnings() { logger.warning("\(warning)") }
        let telemetry = try resolved.otlpEndpoint.map { try OTLPTelemetry(endpoint: $0, logger: logger) }
        var server = AgentHostServer(
            configuration: resolved.configuration, environment: source.environment, redactor: redactor, logger: logger)
        server.metrics = AgentHostMetrics(exporter: telemetry?.metrics)
        server.reloadConfiguration = { try source.load().resolve().configuration }
        // The exporters start before the server and stop after it, so the last spans are sent.
        try await ServiceGroup(
            configuration: .init(
                services: (telemetry?.services ?? []) + [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check serve's configuration.", subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the settings serve would run with and where each came from (secrets redacted); exit 1 if invalid.",
            discussion:
                "Reads the defaults, the file, then the AGENTHOST_* variables, as serve does; the output is itself a configuration file."
        )
        @Option(help: "YAML configuration file (default: $AGENTHOST_CONFIG, else none).") var config: String?

        func run() async throws {
            let report = AgentHostCLI.checkConfiguration(file: config, environment: ProcessInfo.processInfo.environment)
            for line in report.lines { print(line) }
            for line in report.problems { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            if !report.valid { throw ExitCode(1) }
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mint agent tokens.", subcommands: [Mint.self])

    struct Mint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint a token for an agent; the token is the last line of standard output."
        )

        @Option(help: "Agent id (1-128 of A-Z a-z 0-9 _ -).") var agent: String
        @Option(help: "Role (same characters).") var role: String
        @Option(help: "Team (same characters, may be empty).") var team = ""
        @Option(help: "Lifetime, e.g. 90s, 15m, 12h, 7d.") var ttl = "12h"
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var tokens: TokenPolicyOptions

        func validate() throws {
            do {
                _ = try AgentID(agent)
                _ = try Role(role)
                _ = try Team(team)
                _ = try DurationParser.parse(ttl)
            } catch {
                throw ValidationError("\(error)")
            }
        }

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let minted = try AgentHostCLI.mint(
                agent: try AgentID(agent), role: try Role(role), team: try Team(team),
                lifetime: try DurationParser.parse(ttl), policy: try tokens.policy(),
                dataDirectory: data.resolved(environment), environment: environment
            )
            let expiry = UTCTimestamp.string(seconds: minted.claims.expiresAt)
            FileHandle.standardError.write(
                Data(
                    "minted token \(minted.claims.tokenID) for agent \(minted.claims.agent) (role \(minted.claims.role)), expires \(expiry)\n"
                        .utf8
                ))
            print(minted.token)
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the token keyring file. A running server picks up changes on SIGHUP or a restart.",
        subcommands: [Initialize.self, Rotate.self, Retire.self, List.self]
    )

    struct Initialize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "init", abstract: "Create the keyring with a first primary key.")
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let directory = data.resolved(ProcessInfo.processInfo.environment)
            let key = try AgentHostCLI.initializeKeyring(dataDirectory: directory)
            print("created \(KeyringFile(dataDirectory: directory).path) with primary token key \(key) and vault key version 1")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a new primary key; the old primary only verifies from now on.")
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let key = try AgentHostCLI.rotate(dataDirectory: data.resolved(environment), environment: environment)
            print("new primary key \(key); reload agenthost serve (SIGHUP) to sign with it")
            await Keys.record("keys.rotated", key: "\(key)", data: data, database: database)
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retire a key: tokens it signed are refused from now on.")
        @Argument(help: "The id of the key to retire.") var keyID: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard let id = try? KeyID(keyID) else { throw ValidationError("'\(keyID.prefix(64))' is not a key id") }
            try AgentHostCLI.retire(id, dataDirectory: data.resolved(environment), environment: environment)
            print("retired key \(id); reload agenthost serve (SIGHUP) to stop accepting its tokens")
            await Keys.record("keys.retired", key: "\(id)", data: data, database: database)
        }
    }

    /// Records a keyring change in the audit log; a failure to record is a warning.
    static func record(_ action: String, key: String, data: DataDirectoryOption, database: DatabaseOption) async {
        if let warning = await AgentHostCLI.recordKeyChange(action, key: key, at: database.place(data: data)) {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List key ids and their status (never the secrets).")
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let place = AgentHostCLI.Place(
                dataDirectory: data.dataDirectory, database: nil, environment: ProcessInfo.processInfo.environment)
            let (lines, vaultProblem) = try AgentHostCLI.keyLines(at: place)
            for line in lines { print(line) }
            // The token keys are listed; say why the vault's are not, rather than staying silent.
            if let vaultProblem { FileHandle.standardError.write(Data((vaultProblem + "\n").utf8)) }
        }
    }
}

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Test and explain authorization policies.", subcommands: [Test.self, Explain.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a cases file against a policy; one line per case, exit 1 on any mismatch.",
            discussion: "Without options, runs the embedded default policy against its own cases."
        )
        @Option(help: "Policy file; the embedded default when not given.") var policy: String?
        @Option(help: "Cases file (required with --policy).") var cases: String?

        func run() async throws {
            let report = try AgentHostCLI.testPolicy(policyPath: policy, casesPath: cases)
            for line in report.lines { print(line) }
            if !report.passed { throw ExitCode(1) }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the decision for one request and why.")
        @Option(help: "Policy file; the embedded default when not given.") var policy: String?
        @Option(help: "role=ROLE[,agent=ID][,team=TEAM], or anonymous.") var principal: String
        @Option(help: "The request, such as 'POST /api/agents'.") var request: String
        @Option(help: "The client's socket address, such as 127.0.0.1; the policy's loopback condition holds only for a local client.")
        var peer: String?
        @Flag(help: "Short for --peer 127.0.0.1: a client on this machine.") var loopback = false
        @Option(name: .customLong("trusted-proxy"), help: "A trusted proxy (address or CIDR), as serve takes it; repeat for more.")
        var trustedProxies: [String] = []
        @Option(
            name: .customLong("header"), help: "A request header, 'Name: value' (such as 'X-Forwarded-For: 203.0.113.9'); repeat for more.")
        var headers: [String] = []

        func run() async throws {
            var proxies = [IPNetwork]()
            for proxy in trustedProxies {
                guard let network = IPNetwork(proxy) else {
                    throw ValidationError("--trusted-proxy '\(proxy.prefix(64))' is not an address or CIDR such as 10.0.0.0/8")
                }
                proxies.append(network)
            }
            var fields = [HeaderField]()
            for header in headers {
                let parts = header.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--header must be 'Name: value'") }
                fields.append(HeaderField(name: String(parts[0]), value: parts[1].trimmingCharacters(in: .whitespaces)))
            }
            let lines = try AgentHostCLI.explainPolicy(
                policyPath: policy, principal: principal, request: request, peer: peer ?? (loopback ? "127.0.0.1" : nil), headers: fields,
                trustedProxies: proxies
            )
            for line in lines {
                print(line)
            }
        }
    }
}
