import AgentHost
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SecurityCore
import SecurityStore

/// The `agenthost` command line: serve, mint tokens, manage keys.
@main
struct AgentHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agenthost",
        abstract: "Agent identity, tokens and request security for self-hosted agent platforms.",
        subcommands: [Serve.self, Token.self, Keys.self, VaultCommand.self, UsersCommand.self, SetupTokenCommand.self, AuditCommand.self, ScrubCommand.self, GitCommand.self, PolicyCommand.self]
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
        help: "postgres://user:password@host:port/db or sqlite:PATH (default: $AGENTHOST_DATABASE_URL, else agenthost.sqlite in the data directory). Prefer the variable for URLs with a password: argv is visible to other users."
    )
    var database: String?

    func url(dataDirectory: String, environment: [String: String]) -> String {
        AgentHostCLI.databaseURL(option: database, dataDirectory: dataDirectory, environment: environment)
    }

    /// Opens the store for the data directory `data` names (quietly: these commands report on
    /// standard output and errors), runs `body`, and closes it.
    func withStore<Result>(data: DataDirectoryOption, _ body: (SQLSecurityStore) async throws -> Result) async throws -> Result {
        let environment = ProcessInfo.processInfo.environment
        let directory = data.resolved(environment)
        return try await AgentHostCLI.withStore(
            url: url(dataDirectory: directory, environment: environment), dataDirectory: directory, logger: VaultCommand.logger, body
        )
    }

    /// Loads the vault keys, opens the store for the data directory `data` names, runs `body` with
    /// both, and closes the store.
    func withVault<Result>(
        data: DataDirectoryOption, _ body: (AgentHostCLI.VaultSession) async throws -> Result
    ) async throws -> Result {
        let environment = ProcessInfo.processInfo.environment
        let directory = data.resolved(environment)
        return try await AgentHostCLI.withVault(
            databaseURL: url(dataDirectory: directory, environment: environment), dataDirectory: directory,
            environment: environment, logger: VaultCommand.logger, body
        )
    }

    /// Says so when a password was given on the command line, where `ps` shows it.
    func warnAboutArgv(_ logger: Logger) {
        if let database, URLComponents(string: database)?.password != nil {
            logger.warning("--database holds a password, which other local users can read from the process list; set \(AgentHostCLI.databaseVariable) instead")
        }
    }
}

/// `--max-ttl`, shared by `serve` and `token mint` so both apply the same limit.
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
    @Option(name: .customLong("max-head-bytes"), help: "Largest request head (request line and headers) in bytes; larger is answered 431.")
    var headBytes = ConnectionLimits().headBytes
    @Option(name: .customLong("max-request-line-bytes"), help: "Longest request line in bytes; longer is answered 414.")
    var requestLineBytes = ConnectionLimits().requestLineBytes
    @Option(name: .customLong("max-header-fields"), help: "Most header fields in one request; more is answered 431.")
    var headerFields = ConnectionLimits().headerFields
    @Option(name: .customLong("head-timeout"), help: "Time a client has to send a request head (e.g. 10s); then 408 and closed.")
    var headTimeout = "10s"
    @Option(name: .customLong("idle-timeout"), help: "Time a keep-alive connection may wait between requests; then closed.")
    var idleTimeout = "75s"
    @Option(name: .customLong("body-timeout"), help: "Time a request body may pause between two reads; then closed.")
    var bodyTimeout = "30s"
    @Option(name: .customLong("max-connections"), help: "Most connections open at once; past it a new one is answered 503 and closed.")
    var connections = ConnectionLimits().connections

    func limits() throws -> ConnectionLimits {
        func duration(_ text: String, _ option: String) throws -> Duration {
            do {
                return try DurationParser.parse(text)
            } catch let error as AgentHostError {
                throw ValidationError("--\(option): \(error.message)")
            }
        }
        return ConnectionLimits(
            headBytes: headBytes, requestLineBytes: requestLineBytes, headerFields: headerFields,
            headTimeout: try duration(headTimeout, "head-timeout"), idleTimeout: try duration(idleTimeout, "idle-timeout"),
            bodyTimeout: try duration(bodyTimeout, "body-timeout"), connections: connections
        )
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the AgentHost HTTP server.")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0 picks a free one).") var port = 8080
    @Option(help: "secure (a credential is required) or header-trust (trusted LAN only).") var mode = "secure"
    @Flag(help: "Allow header-trust mode on a non-loopback address.") var allowUntrustedNetwork = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Policy file (YAML or JSON); the embedded default policy when not given.") var policy: String?
    @Option(name: .customLong("trusted-proxy"), help: "A proxy (address or CIDR) whose X-Forwarded-For is believed and that may call /auth/verify; repeat for more.")
    var trustedProxies: [String] = []
    @Option(
        name: .customLong("rate-limit"),
        help: "Change a rate-limit scope: NAME=LIMIT/PERIOD[/BURST], such as general=600/1m; repeat for more. Scopes: general, sensitive, auth-failures, login-failures."
    )
    var rateLimits: [String] = []
    @Flag(name: .customLong("metrics-public"), help: "Serve GET /metrics without a credential to every client, not only to local ones.")
    var metricsPublic = false
    @Option(name: .customLong("cors-origin"), help: "A browser origin (https://host[:port]) allowed to call the API; repeat for more.")
    var corsOrigins: [String] = []
    @OptionGroup var data: DataDirectoryOption
    @OptionGroup var store: DatabaseOption
    @OptionGroup var tokens: TokenPolicyOptions
    @OptionGroup var connections: ConnectionLimitOptions

    func validate() throws {
        do {
            _ = try AgentHostConfiguration.rateLimitScopes(RateLimitScope.agentHost, overriddenBy: rateLimits)
            try connections.limits().validate()
        } catch let error as AgentHostError {
            throw ValidationError(error.message)
        }
        for proxy in trustedProxies where IPNetwork(proxy) == nil {
            throw ValidationError("--trusted-proxy '\(proxy.prefix(64))' is not an address or CIDR such as 10.0.0.0/8 (host bits must be zero)")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard let mode = AuthenticationMode(rawValue: mode) else {
            throw ValidationError("--mode must be secure or header-trust")
        }
        var configuration = AgentHostConfiguration(
            host: host, port: port, dataDirectory: data.resolved(environment), mode: mode,
            allowUntrustedNetwork: allowUntrustedNetwork, tokenPolicy: try tokens.policy(),
            policy: try policy.map { path throws(PolicyLoadError) in try PolicyLoader.load(contentsOf: path) },
            trustedProxies: trustedProxies.compactMap { IPNetwork($0) }, corsOrigins: corsOrigins
        )
        configuration.policyFile = policy
        configuration.databaseURL = store.database
        configuration.metricsPublic = metricsPublic
        configuration.connectionLimits = try connections.limits()
        configuration.rateLimitScopes = try AgentHostConfiguration.rateLimitScopes(configuration.rateLimitScopes, overriddenBy: rateLimits)
        try configuration.validate()

        // Every log line passes through the redactor, which learns each secret as it is loaded.
        let redactor = SecretRedactor()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return RedactingLogHandler(wrapping: handler, redactor: redactor)
        }
        let logger = Logger(label: "agenthost")
        store.warnAboutArgv(logger)
        try await AgentHostServer(configuration: configuration, environment: environment, redactor: redactor, logger: logger).runService()
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
            FileHandle.standardError.write(Data(
                "minted token \(minted.claims.tokenID) for agent \(minted.claims.agent) (role \(minted.claims.role)), expires \(expiry)\n".utf8
            ))
            print(minted.token)
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the token keyring file. A running server picks up changes when restarted.",
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
            print("new primary key \(key); restart agenthost serve to sign with it")
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
            print("retired key \(id); restart agenthost serve to stop accepting its tokens")
            await Keys.record("keys.retired", key: "\(id)", data: data, database: database)
        }
    }

    /// Records a keyring change in the audit log. The change itself is made: a failure here is
    /// reported, and the command still succeeds.
    static func record(_ action: String, key: String, data: DataDirectoryOption, database: DatabaseOption) async {
        do {
            try await database.withVault(data: data) { session in
                let trail = try await AuditTrail.open(store: session.store, credentials: session.credentials, logger: VaultCommand.logger)
                try await trail.append(UsersCommand.event(action, target: key))
            }
        } catch {
            FileHandle.standardError.write(Data("warning: the change is made, but could not be recorded in the audit log: \(error)\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List key ids and their status (never the secrets).")
        @OptionGroup var data: DataDirectoryOption

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let loaded = try KeySource.load(
                dataDirectory: data.resolved(environment), environment: environment, createIfMissing: false, now: 0
            )
            for key in loaded.keyring.keys {
                let created = UTCTimestamp.string(seconds: key.createdAt)
                print("\(key.id)\t\(key.status.rawValue)\t\(created)")
            }
            let vault: VaultKeySource.Loaded
            do {
                vault = try VaultKeySource.load(
                    dataDirectory: data.resolved(environment), environment: environment, createIfMissing: false, now: 0
                )
            } catch {
                // The token keys are listed; say why the vault's are not, rather than staying silent.
                FileHandle.standardError.write(Data("vault keys: \(error)\n".utf8))
                return
            }
            for entry in vault.keys.entries {
                let status = entry.version == vault.keys.primaryVersion ? "primary" : entry.version < vault.keys.minimumVersion ? "retired" : "opens"
                let created = UTCTimestamp.string(seconds: entry.createdAt)
                print("vault-v\(entry.version)\t\(status)\t\(created)")
            }
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
        @Option(name: .customLong("header"), help: "A request header, 'Name: value' (such as 'X-Forwarded-For: 203.0.113.9'); repeat for more.")
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
