import Foundation
import Hummingbird
public import Logging
public import SecurityCore
import SecurityStore
import Synchronization
public import ServiceLifecycle
public import UnixSignals

/// AgentHost's whole server as one value: build it from a configuration, then run it.
///
/// ``run()`` loads the keys (creating a keyring file on a first start), opens the store, the vault,
/// the accounts and the audit trail, and serves HTTP and the operator stream until its service group
/// shuts down. The background work runs as services of that group (``AuditFlushService``,
/// ``StoreRefreshService``, ``SystemEventRelay``), started before the HTTP server and stopped after
/// it. A graceful shutdown (SIGTERM or SIGINT with ``runService(gracefulShutdownSignals:)``) lets the
/// requests in flight finish, ends the operator streams, writes the last audit events, and closes
/// the store, in that order. A failure at any step closes the store before the error is thrown.
///
/// ```swift
/// var configuration = AgentHostConfiguration(tokenPolicy: try TokenPolicy())
/// configuration.port = 9000
/// try await AgentHostServer(configuration: configuration, logger: Logger(label: "agenthost")).runService()
/// ```
///
/// To run it beside services of your own, add it to your `ServiceGroup` instead.
public struct AgentHostServer: Service {
    /// How the server is set up.
    public var configuration: AgentHostConfiguration
    /// Where token keys, vault keys, the database URL and webhook secrets are looked up
    /// (Docs/OPERATING.md lists the variables).
    public var environment: [String: String]
    /// Learns each secret as it is loaded. Install a `RedactingLogHandler` over it so that no log
    /// line shows one; the executable does.
    public var redactor: SecretRedactor
    /// Where the server logs.
    public var logger: Logger
    /// Called with the bound port once the server listens (after it has logged so).
    public var onServerRunning: @Sendable (Int) async -> Void
    /// Receives the notice with the one-time setup token that a first start issues. It is never
    /// logged; by default it is written to standard output.
    public var announceSetupToken: @Sendable (String) -> Void
    /// Counters served at `GET /metrics`.
    public var metrics = AgentHostMetrics()
    /// Reads the settings anew for a reload (SIGHUP, ``ReloadService``). By default the
    /// configuration stays as it is, with its policy read again from ``AgentHostConfiguration/policyFile``;
    /// `agenthost serve` reads its configuration file and options again.
    public var reloadConfiguration: (@Sendable () throws -> AgentHostConfiguration)?
    /// The wall clock tokens, records and audit events are stamped with.
    public var clock: any TimeSource = SystemTimeSource()
    /// What every cache, timer and deadline of the server reads (rate limits, the audit flush,
    /// store refreshes, reconciliation, the proxy's grant cache and stream watch, readiness).
    public var ticks: any TickSource = SystemTickSource()

    /// `environment` defaults to the process's; `announceSetupToken` to writing on standard output.
    /// SIGHUP reloads the keyring, the policy and the rate limits (``ReloadService``).
    public init(
        configuration: AgentHostConfiguration, environment: [String: String]? = nil, redactor: SecretRedactor = SecretRedactor(),
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        announceSetupToken: (@Sendable (String) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.environment = environment ?? ProcessInfo.processInfo.environment
        self.redactor = redactor
        self.logger = logger
        self.onServerRunning = onServerRunning
        self.announceSetupToken = announceSetupToken ?? { FileHandle.standardOutput.write(Data($0.utf8)) }
    }

    /// Runs the server in a service group of its own that shuts down gracefully on
    /// `gracefulShutdownSignals`.
    public func runService(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await ServiceGroup(
            configuration: .init(services: [self], gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
        ).run()
    }

    public func run() async throws {
        try configuration.validate()
        let now = clock.now()
        let tokenKeys = try KeySource.load(
            dataDirectory: configuration.dataDirectory, environment: environment, createIfMissing: true, now: now
        )
        logLoaded(tokenKeys)
        for key in tokenKeys.keyring.keys { redactor.register(key.secret) }
        if configuration.mode == .headerTrust {
            for line in AgentHost.headerTrustWarning { logger.warning("\(line)") }
        }
        let vaultKeys = try VaultKeySource.load(
            dataDirectory: configuration.dataDirectory, environment: environment, createIfMissing: true, now: now
        )
        for entry in vaultKeys.keys.entries { redactor.register(entry.secret) }
        if vaultKeys.created {
            logger.notice("added a vault key to the keyring; back the keyring up with the database, or stored credentials cannot be opened")
        }
        let store = try await AgentHostCLI.openStore(
            url: AgentHostCLI.databaseURL(
                option: configuration.databaseURL, dataDirectory: configuration.dataDirectory, environment: environment
            ),
            dataDirectory: configuration.dataDirectory, logger: logger
        )
        // An unclosed SQLite connection is a crash in a debug build, not a message: whatever stops
        // the start or the server, the store is closed before the error is reported.
        do {
            try await serve(tokenKeys: tokenKeys, vaultKeys: vaultKeys, store: store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// Everything over the open store, then the HTTP server and its services until shutdown.
    private func serve(tokenKeys: KeySource.Loaded, vaultKeys: VaultKeySource.Loaded, store: SQLSecurityStore) async throws {
        let clock = self.clock, ticks = self.ticks
        let credentials = try await CredentialService.open(
            keys: vaultKeys.keys.keyring, store: store, clock: clock, redactor: redactor, ticks: ticks)
        logger.info(
            "credential store open",
            metadata: [
                "database": "\(store.dialect.rawValue)", "vault_versions": "\(vaultKeys.keys.keyring.versions)",
                "vault_primary": "\(vaultKeys.keys.primaryVersion)",
            ]
        )
        if credentials.vault.rotationAdvised {
            logger.warning("the vault key has sealed over 2^30 secrets; run 'agenthost vault rotate' soon")
        }
        let accounts = try await AccountService.open(store: store, credentials: credentials, hasher: try PasswordHasher(), clock: clock)
        if tokenKeys.created {
            // The first start: announced once, never logged.
            let setup = try await accounts.issueSetupToken(createdBy: "first-start")
            redactor.register(SecureBytes(copying: setup.credential.utf8))
            announceSetupToken((AgentHost.setupTokenNotice + [setup.credential, ""]).joined(separator: "\n"))
        }
        let webhooks = try Self.webhookVerifiers(environment: environment, redactor: redactor)
        for verifier in webhooks {
            logger.info("webhook endpoint enabled", metadata: ["path": "/webhooks/\(verifier.provider.rawValue)"])
        }
        _ = try await store.pruneDeliveries(now: clock.now())
        let trail = try await AuditTrail.open(store: store, credentials: credentials, logger: logger, clock: clock)
        let audit = AuditRecorder(trail: trail, metrics: metrics)
        // Several servers share a PostgreSQL store, and with it every shared scope's budgets.
        let shared = store.dialect == .postgres
        let revocations = InMemoryRevocationList(clock: clock)
        let browserSessions = configuration.portal.map { portal in
            BrowserSessions(
                store: store, portal: portal, revocations: revocations, revocationStore: store, clock: clock,
                secondFactors: SecondFactors(
                    store: store, credentials: credentials, accounts: accounts, requiredRoles: portal.secondFactorRoles,
                    issuer: portal.title, clock: clock, passkeys: store))
        }
        // Where each session was last seen, before the first request asks.
        try await browserSessions?.sync()
        let runs = AgentRuns(
            store: store, revocations: revocations, revocationStore: store, clock: clock,
            leaseTTL: configuration.leaseTTL.components.seconds)
        try await runs.sync()
        for provider in configuration.oidcProviders {
            if try await credentials.systemSecret(named: SingleSignOn.secretName(provider.name)) == nil {
                logger.warning(
                    "single sign-on provider has no client secret: nobody can sign in with it until it is set",
                    metadata: ["provider": "\(provider.name)", "fix": "agenthost oidc set-secret \(provider.name)"])
            } else {
                logger.info("single sign-on provider", metadata: ["provider": "\(provider.name)", "issuer": "\(provider.issuer)"])
            }
        }
        let components = try AgentHost.Components(
            configuration: configuration, keyring: tokenKeys.keyring, credentials: credentials, revocationStore: store,
            accounts: accounts, audit: audit, webhooks: webhooks, webhookStore: store, metrics: metrics,
            clock: clock, ticks: ticks, sharesRateLimits: shared, readiness: ReadinessCheck(ticks: ticks) { try await store.checkReady() },
            browserSessions: browserSessions, revocations: revocations, runs: runs, identityLinks: store
        )
        if let portal = configuration.portal {
            let cookie = try portal.sessionCookie()
            logger.info(
                "sign-in portal at /auth/sign-in",
                metadata: [
                    "cookie": "\(cookie.name)", "idle_timeout": "\(portal.idleTimeout)", "lifetime": "\(portal.lifetime)",
                ])
        }
        let policySource = configuration.policyFile ?? "default"
        let started = try await trail.append([
            AuditEvent(
                time: clock.now() * 1000, actor: "agenthost", action: "server.started",
                target: "\(configuration.host):\(configuration.port)",
                details: [
                    "mode": configuration.mode.rawValue, "policy": policySource, "policy_rules": "\(components.policy.rules.count)",
                    "token_primary_key": tokenKeys.keyring.primary?.id.rawValue ?? "-",
                    "vault_primary_version": "\(vaultKeys.keys.primaryVersion)",
                ]
            )
        ])
        _ = try await store.pruneRevocations(now: clock.now())
        try await components.refreshRevocations()
        logger.info(
            "policy loaded",
            metadata: [
                "source": "\(policySource)", "rules": "\(components.policy.rules.count)",
                "trusted_proxies": "\(configuration.trustedProxies.count)",
            ]
        )

        let logger = self.logger, configuration = self.configuration, onServerRunning = self.onServerRunning
        let sharing: [any Service] =
            shared
            ? [
                RateLimitSyncService(buckets: components.rateLimitStore, store: store, metrics: metrics, logger: logger, ticks: ticks),
                RevocationListener(components: components, store: store, logger: logger),
            ] : []
        // Launched agents' tunnels to other hosts, when a port is set for them.
        let egress: [any Service] =
            configuration.connectPort.map { port in
                [
                    ConnectProxy(components: components, host: configuration.host, port: port, logger: logger) { bound in
                        components.connectPort.withLock { $0 = bound }
                    }
                ]
            } ?? []
        let application = AgentHost.application(
            configuration: configuration, components: components, logger: logger,
            // Started in this order before the HTTP server, and stopped in the reverse order after it.
            services: sharing + egress + [
                AuditFlushService(recorder: audit, logger: logger, ticks: ticks),
                StoreRefreshService(components: components, store: store, logger: logger),
                SystemEventRelay(events: components.events, store: store, after: started?.sequence ?? 0, logger: logger, ticks: ticks),
                ReloadService(
                    components: components, running: configuration,
                    readConfiguration: reloadConfiguration ?? Self.rereadPolicy(configuration),
                    environment: environment, redactor: redactor, logger: logger
                ),
            ]
        ) { port in
            logger.notice(
                "agenthost listening", metadata: ["url": "http://\(configuration.host):\(port)", "mode": "\(configuration.mode.rawValue)"])
            await onServerRunning(port)
        }
        try await application.run()
    }

    /// `configuration` with its policy read again from its file, if it has one.
    static func rereadPolicy(_ configuration: AgentHostConfiguration) -> @Sendable () throws -> AgentHostConfiguration {
        {
            var next = configuration
            if let file = configuration.policyFile { next.policy = try PolicyLoader.load(contentsOf: file) }
            return next
        }
    }

    private func logLoaded(_ loaded: KeySource.Loaded) {
        switch loaded.source {
        case .environment:
            logger.info("token keys loaded from the environment", metadata: ["keys": "\(loaded.keyring.keys.count)"])
        case .file(let path) where loaded.created:
            logger.notice(
                "created a new keyring (mode 0600); keep it secret and back it up",
                metadata: ["path": "\(path)", "primary_key": "\(loaded.keyring.primary?.id.rawValue ?? "-")"]
            )
        case .file(let path):
            logger.info("token keys loaded", metadata: ["path": "\(path)", "keys": "\(loaded.keyring.keys.count)"])
        }
        if loaded.keyring.primary == nil {
            logger.warning("the keyring has no primary key: tokens verify, but none can be minted")
        }
    }

    /// The variables that hold the webhook secrets; unset means that endpoint does not exist.
    static let webhookVariables: [(WebhookVerifier.Provider, String)] = [
        (.gitlab, "AGENTHOST_GITLAB_WEBHOOK_SECRET"), (.github, "AGENTHOST_GITHUB_WEBHOOK_SECRET"),
    ]

    /// A verifier for each webhook secret set in `environment`. A secret shorter than 16 bytes
    /// stops the start: a guessable secret would make the endpoint open in all but name.
    static func webhookVerifiers(environment: [String: String], redactor: SecretRedactor) throws -> [WebhookVerifier] {
        try webhookVariables.compactMap { provider, variable in
            guard let value = environment[variable] else { return nil }
            guard value.utf8.count >= 16 else {
                throw AgentHostError(.configuration, "\(variable) must be at least 16 characters (generate one with: openssl rand -hex 32)")
            }
            let secret = SecureBytes(copying: value.utf8)
            redactor.register(secret)
            return WebhookVerifier(provider: provider, secret: secret)
        }
    }
}
