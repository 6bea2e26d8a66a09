public import Logging
public import SecurityCore
public import ServiceLifecycle
import UnixSignals

/// Reloads the token keyring, the policy and the rate-limit numbers on SIGHUP, without dropping a
/// connection: requests that started keep the settings they started with, later ones get the new.
///
/// A reload reads the settings anew (``AgentHostServer/reloadConfiguration``: the configuration
/// file, for `agenthost serve --config`) and the keyring file. If either is invalid, nothing changes:
/// the error is logged and the settings in force stay. Other settings (the address, the mode, the
/// store, the connection limits…) are read too, and a change to them is logged as needing a restart.
/// Every reload, applied or refused, is recorded in the audit log.
public struct ReloadService: Service {
    let components: AgentHost.Components
    /// The configuration the server started with.
    let running: AgentHostConfiguration
    let readConfiguration: @Sendable () throws -> AgentHostConfiguration
    let environment: [String: String]
    let redactor: SecretRedactor
    let logger: Logger

    public init(
        components: AgentHost.Components, running: AgentHostConfiguration,
        readConfiguration: @escaping @Sendable () throws -> AgentHostConfiguration, environment: [String: String],
        redactor: SecretRedactor, logger: Logger
    ) {
        self.components = components
        self.running = running
        self.readConfiguration = readConfiguration
        self.environment = environment
        self.redactor = redactor
        self.logger = logger
    }

    public func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
    }

    /// Reads the settings and the keyring and puts them in force. Returns whether it did; on
    /// `false` the settings in force stay, and the log says why.
    @discardableResult
    public func reload() -> Bool {
        let next: AgentHostConfiguration
        let keys: KeySource.Loaded
        do {
            next = try readConfiguration()
            keys = try KeySource.load(
                dataDirectory: running.dataDirectory, environment: environment, createIfMissing: false,
                now: components.clock.now()
            )
            for key in keys.keyring.keys { redactor.register(key.secret) }
            try components.reload(
                keyring: keys.keyring, policy: next.policy ?? DefaultPolicy.load(), rateLimitScopes: next.rateLimitScopes
            )
        } catch {
            logger.error("reload refused; the settings in force stay", metadata: ["error": "\(error)"])
            components.audit("-", "server.reload_refused", actor: "agenthost", details: ["error": String("\(error)".prefix(300))])
            return false
        }
        for setting in Self.restartOnlyChanges(from: running, to: next) {
            logger.warning("a changed setting needs a restart to apply", metadata: ["setting": "\(setting)"])
        }
        let policy = components.policy
        let details = [
            "policy": next.policyFile ?? "default", "policy_rules": "\(policy.rules.count)",
            "token_keys": "\(keys.keyring.keys.count)", "token_primary_key": keys.keyring.primary?.id.rawValue ?? "-",
            "rate_limits": next.rateLimitScopes.map { "\($0.name)=\($0.limit)/\($0.period.components.seconds)s" }.joined(separator: " "),
        ]
        logger.notice("reloaded the keyring, the policy and the rate limits", metadata: details.mapValues { "\($0)" })
        components.audit("-", "server.reloaded", actor: "agenthost", details: details)
        return true
    }

    /// The settings that differ between `running` and `next` and that only a restart applies.
    static func restartOnlyChanges(from running: AgentHostConfiguration, to next: AgentHostConfiguration) -> [String] {
        var changed = [String]()
        if running.host != next.host { changed.append("host") }
        if running.port != next.port { changed.append("port") }
        if running.mode != next.mode { changed.append("mode") }
        if running.allowUntrustedNetwork != next.allowUntrustedNetwork { changed.append("allow_untrusted_network") }
        if running.dataDirectory != next.dataDirectory { changed.append("data_dir") }
        if running.databaseURL != next.databaseURL { changed.append("database") }
        if running.tokenPolicy != next.tokenPolicy { changed.append("max_ttl") }
        if running.trustedProxies != next.trustedProxies { changed.append("trusted_proxy") }
        if running.corsOrigins != next.corsOrigins { changed.append("cors_origin") }
        if running.metricsPublic != next.metricsPublic { changed.append("metrics_public") }
        if running.connectionLimits != next.connectionLimits { changed.append("connection limits") }
        return changed
    }
}
