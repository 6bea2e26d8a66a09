import AsyncHTTPClient
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
public import ServiceLifecycle
public import SecurityCore
import Synchronization

/// Builds the AgentHost HTTP application: routes behind the security middleware.
public enum AgentHost {
    /// Everything a running server needs, assembled from a configuration and a keyring.
    ///
    /// The keyring, the policy and the rate-limit numbers can be replaced while the server runs
    /// (``reload(keyring:policy:rateLimitScopes:)``, which SIGHUP calls): the pipeline, the minters
    /// and the policy are read anew by every request, everything else stays.
    public final class Components: Sendable {
        /// The pipeline in force.
        public var pipeline: SecurityPipeline { live.current.pipeline }
        /// Mints agent tokens with the primary key in force.
        public var minter: TokenMinter { live.current.minter }
        public let revocations: InMemoryRevocationList
        /// The policy in force.
        public var policy: Policy { live.current.policy }
        /// Credentials in the vault; `nil` when the server runs without a store (the credential
        /// routes then answer `503`).
        public let credentials: CredentialService?
        /// Where revocations persist; `nil` keeps them in memory only (lost on restart).
        public let revocationStore: (any RevocationStore)?
        /// Users, API keys, devices and the setup token; `nil` when the server runs without a
        /// store (login and key routes then answer `503`).
        public let accounts: AccountService?
        /// Mints user session tokens: the agent-token format under the session audience, so a
        /// session never passes as an agent token or the other way round.
        public var sessionMinter: TokenMinter { live.current.sessionMinter }
        /// Mints browser sessions (the portal's cookie): the same format under the browser
        /// audience and the `CredentialKind.browserSession` prefix.
        public var browserMinter: TokenMinter { live.current.browserMinter }
        /// The token between a right password and the second factor, and its verifier.
        var pendingMinter: TokenMinter { live.current.pendingMinter }
        var pendingVerifier: TokenVerifier { live.current.pendingVerifier }
        /// The CSRF tokens and return-URL seals of the portal's forms, under a key derived from the
        /// primary token key; `nil` when the keyring has none (the portal then cannot sign anyone in).
        public var forms: FormProtection? { live.current.forms }
        /// The portal's sessions; `nil` when the portal is off or the server has no store.
        public let browserSessions: BrowserSessions?
        /// Sign-in through identity providers; `nil` when none is configured or the portal is off.
        let singleSignOn: SingleSignOn?
        /// The key that seals a single sign-on's flow cookie, from the primary token key; `nil`
        /// when the keyring has none.
        var flowKey: AESGCMKey? { live.current.flowKey }
        /// The runs of `agenthost run` and their leases; `nil` when the server has no store (the
        /// run routes then answer `503`).
        public let runs: AgentRuns?
        /// Mints leases: the agent-token format under the lease audience (`<audience>-lease`), so
        /// a lease never passes as a plain agent token.
        var leaseMinter: TokenMinter { live.current.leaseMinter }
        /// The signer of forward auth's `X-Auth-Assertion`, over the keyring in force; `nil` when
        /// ``AgentHostConfiguration/identityAssertion`` is off.
        var assertions: IdentityAssertions? { live.current.assertions }
        /// The CONNECT proxy's bound port once it listens; `nil` while it does not.
        let connectPort = Mutex<Int?>(nil)
        /// Proves leases outside the pipeline: the CONNECT proxy's tunnels. `nil` without runs.
        var leaseAuthenticator: LeaseAuthenticator? { live.current.leaseAuthenticator }
        /// Where security events go (refusals, releases, mints, revocations, account changes);
        /// `nil` records nothing.
        public let audit: AuditRecorder?
        /// The webhook senders configured: a path exists only for these.
        public let webhooks: [WebhookVerifier]
        /// Where accepted deliveries are kept; `nil` answers deliveries with `503`.
        public let webhookStore: (any WebhookDeliveryStore)?
        /// Counters served at `GET /metrics`.
        public let metrics: AgentHostMetrics
        /// The upstreams of `/proxy/{upstream}/...` and their clients; `nil` when none is configured.
        public let proxy: UpstreamProxy?
        /// The operator stream's feed (`GET /ws/system`).
        public let events: SystemEvents
        let clock: any TimeSource
        /// What a reload keeps: the configuration the parts are built from, and the buckets.
        let configuration: AgentHostConfiguration
        /// The rate-limit buckets, which a ``RateLimitSyncService`` reconciles with other servers
        /// when the budgets are shared.
        public let rateLimitStore: InMemoryRateLimitStore
        /// Whether the store can serve (`GET /health/ready`); `nil` is always ready.
        let readiness: ReadinessCheck?
        /// What every cache, timer and deadline of the server reads: the system's monotonic clock,
        /// or a test's ``ManualTimeSource``.
        let ticks: any TickSource
        private let live: Live

        /// Every kind of credential this server knows: AgentHost's own, whether or not this server
        /// takes them (a server without accounts takes no API key, and still never forwards one),
        /// and those of ``AgentHostConfiguration/authenticators``.
        public var credentialKinds: [CredentialKind] { live.current.credentialKinds }

        /// The parts a reload replaces, swapped as one. A class: every request reads it, and
        /// taking one reference costs less than copying nine (a copy of the struct it was took
        /// 2.5 % of the proxy's CPU under `scripts/loadtest --proxy`).
        final class Current: Sendable {
            let pipeline: SecurityPipeline
            let minter: TokenMinter
            let sessionMinter: TokenMinter
            let browserMinter: TokenMinter
            /// Mints and checks the short-lived token between a right password and the second factor.
            let pendingMinter: TokenMinter
            let pendingVerifier: TokenVerifier
            let leaseMinter: TokenMinter
            let leaseAuthenticator: LeaseAuthenticator?
            let forms: FormProtection?
            let flowKey: AESGCMKey?
            let assertions: IdentityAssertions?
            let policy: Policy
            /// ``Components/credentialKinds``, worked out once.
            let credentialKinds: [CredentialKind]

            init(
                pipeline: SecurityPipeline, minter: TokenMinter, sessionMinter: TokenMinter, browserMinter: TokenMinter,
                pendingMinter: TokenMinter, pendingVerifier: TokenVerifier, leaseMinter: TokenMinter,
                leaseAuthenticator: LeaseAuthenticator?, forms: FormProtection?, flowKey: AESGCMKey?, assertions: IdentityAssertions?,
                policy: Policy
            ) {
                self.flowKey = flowKey
                self.assertions = assertions
                self.leaseMinter = leaseMinter
                self.leaseAuthenticator = leaseAuthenticator
                self.pipeline = pipeline
                self.minter = minter
                self.sessionMinter = sessionMinter
                self.browserMinter = browserMinter
                self.pendingMinter = pendingMinter
                self.pendingVerifier = pendingVerifier
                self.forms = forms
                self.policy = policy
                var seen = Set<CredentialKind>()
                self.credentialKinds = (CredentialKind.builtIn + pipeline.credentialKinds).filter { seen.insert($0).inserted }
            }
        }

        final class Live: Sendable {
            private let state: Mutex<Current>
            init(_ current: Current) { state = Mutex(current) }
            var current: Current { state.withLock { $0 } }
            func replace(with current: Current) { state.withLock { $0 = current } }
        }

        /// `identityLinks` keeps who signs in as whom through ``AgentHostConfiguration/oidcProviders``
        /// (single sign-on needs it, the portal, accounts and a vault). `sharesRateLimits` keeps the spends of shared scopes for a ``RateLimitSyncService``;
        /// `readiness` answers `GET /health/ready`. Throws ``AgentHostError`` for a CORS origin or
        /// body cap that cannot be used, and `PolicyLoadError` if the embedded default policy
        /// does not load.
        public init(
            configuration: AgentHostConfiguration, keyring: Keyring, credentials: CredentialService? = nil,
            revocationStore: (any RevocationStore)? = nil, accounts: AccountService? = nil, audit: AuditRecorder? = nil,
            webhooks: [WebhookVerifier] = [], webhookStore: (any WebhookDeliveryStore)? = nil,
            metrics: AgentHostMetrics = AgentHostMetrics(), events: SystemEvents? = nil, clock: any TimeSource = SystemTimeSource(),
            ticks: any TickSource = SystemTickSource(), sharesRateLimits: Bool = false, readiness: ReadinessCheck? = nil,
            browserSessions: BrowserSessions? = nil, revocations: InMemoryRevocationList? = nil, runs: AgentRuns? = nil,
            identityLinks: (any IdentityLinkStore)? = nil
        ) throws {
            self.runs = runs
            if !configuration.oidcProviders.isEmpty, browserSessions != nil, let accounts, let credentials, let identityLinks {
                singleSignOn = SingleSignOn(
                    providers: configuration.oidcProviders, links: identityLinks, accounts: accounts, credentials: credentials,
                    http: HTTPClient.shared, clock: clock, ticks: ticks)
            } else {
                singleSignOn = nil
            }
            self.configuration = configuration
            self.rateLimitStore = InMemoryRateLimitStore(maximumKeys: configuration.rateLimitKeys, sharesBudgets: sharesRateLimits)
            self.readiness = readiness
            self.ticks = ticks
            // Shared with the browser sessions, which revoke into it.
            self.revocations = browserSessions?.revocations ?? revocations ?? InMemoryRevocationList(clock: clock)
            self.accounts = accounts
            self.clock = clock
            self.audit = audit
            self.webhooks = webhooks
            self.webhookStore = webhookStore
            self.metrics = metrics
            self.events = events ?? SystemEvents(clock: clock)
            self.credentials = credentials
            self.revocationStore = revocationStore
            self.browserSessions = accounts == nil ? nil : browserSessions
            self.proxy = configuration.upstreams.isEmpty ? nil : try UpstreamProxy(upstreams: configuration.upstreams, ticks: ticks)
            self.live = Live(
                try Self.parts(
                    configuration: configuration, keyring: keyring, policy: configuration.policy ?? DefaultPolicy.load(),
                    rateLimitScopes: configuration.rateLimitScopes, revocations: self.revocations, accounts: accounts,
                    browserSessions: self.browserSessions, runs: runs, rateLimitStore: rateLimitStore, ticks: ticks, clock: clock
                ))
        }

        /// Puts `keyring`, `policy` and `rateLimitScopes` in force for every request from now on.
        /// Buckets, revocations and everything else stay. Throws, changing nothing, when the parts
        /// cannot be built.
        public func reload(keyring: Keyring, policy: Policy, rateLimitScopes: [RateLimitScope]) throws {
            live.replace(
                with: try Self.parts(
                    configuration: configuration, keyring: keyring, policy: policy, rateLimitScopes: rateLimitScopes,
                    revocations: revocations, accounts: accounts, browserSessions: browserSessions, runs: runs,
                    rateLimitStore: rateLimitStore, ticks: ticks, clock: clock
                ))
        }

        /// The pipeline, the minters and the policy over `keyring`, `policy` and `rateLimitScopes`.
        private static func parts(
            configuration: AgentHostConfiguration, keyring: Keyring, policy: Policy, rateLimitScopes: [RateLimitScope],
            revocations: InMemoryRevocationList, accounts: AccountService?, browserSessions: BrowserSessions?, runs: AgentRuns?,
            rateLimitStore: InMemoryRateLimitStore, ticks: any TickSource, clock: any TimeSource
        ) throws -> Current {
            let leasePolicy = try leasePolicy(configuration.tokenPolicy)
            let verifier = TokenVerifier(keyring: keyring, policy: configuration.tokenPolicy, clock: clock, revocations: revocations)
            let sessionPolicy = try sessionPolicy(configuration.tokenPolicy)
            let browserPolicy = try browserPolicy(configuration.tokenPolicy, portal: browserSessions?.portal ?? PortalConfiguration())
            let pendingPolicy = try TokenPolicy(
                audience: String(configuration.tokenPolicy.audience.prefix(120)) + "-second-factor",
                maximumLifetime: .seconds(PortalConfiguration.pendingLifetime),
                defaultLifetime: .seconds(PortalConfiguration.pendingLifetime),
                leeway: .seconds(configuration.tokenPolicy.leeway), kind: .browserSession)
            // After agent tokens, the pipeline asks these in turn; each claims its own kind.
            var authenticators: [any Authenticator] = []
            if let accounts {
                let sessions = TokenVerifier(
                    keyring: keyring, policy: sessionPolicy, clock: clock, revocations: SessionRevocations(list: revocations))
                authenticators.append(SessionAuthenticator(sessions: sessions, directory: accounts.directory))
                authenticators.append(AccessKeyAuthenticator(keyKind: .apiKey, directory: accounts.directory))
                authenticators.append(AccessKeyAuthenticator(keyKind: .device, directory: accounts.directory))
                authenticators.append(SetupTokenAuthenticator())
                if let browserSessions {
                    authenticators.append(
                        BrowserSessionAuthenticator(
                            sessions: TokenVerifier(
                                keyring: keyring, policy: browserPolicy, clock: clock, revocations: SessionRevocations(list: revocations)),
                            directory: accounts.directory, activity: browserSessions.activity, clock: clock,
                            idleTimeout: browserSessions.idleTimeout
                        ))
                }
            }
            let leaseAuthenticator = runs.map { runs in
                LeaseAuthenticator(
                    leases: TokenVerifier(keyring: keyring, policy: leasePolicy, clock: clock, revocations: revocations), runs: runs)
            }
            if let leaseAuthenticator { authenticators.append(leaseAuthenticator) }
            authenticators += configuration.authenticators
            let cors: CORSPolicy?
            let bodyLimits: BodyLimits
            do {
                cors = configuration.corsOrigins.isEmpty ? nil : try CORSPolicy(allowedOrigins: configuration.corsOrigins)
                bodyLimits = try BodyLimits(
                    default: configuration.bodyLimit,
                    routes: configuration.upstreams.compactMap { upstream in
                        RouteMatch(ProxyRoutes.prefix(upstream.name) + "**").map { ($0, upstream.maximumBodyBytes) }
                    })
            } catch let error as CORSConfigurationError {
                throw AgentHostError(.configuration, "--cors-origin: \(error.reason)")
            } catch {
                throw AgentHostError(.configuration, "\(error)")
            }
            var credentialLocations = ProxyRoutes.credentialLocations(configuration.upstreams)
            var selfAuthenticating = [AccountRoutes.loginPath, AccountRoutes.onboardingPath] + WebhookRoutes.paths
            var publicPaths: Set<String> = ["/health", ReadinessCheck.path, OpenAPIDocument.path]
            if configuration.metricsPublic { publicPaths.insert("/metrics") }
            if configuration.identityAssertion != nil { publicPaths.insert(IdentityAssertions.jwksPath) }
            if let browserSessions {
                // The session cookie counts at forward auth and on the portal's pages, nowhere else.
                credentialLocations.cookie = .init(name: try browserSessions.portal.sessionCookie().name, routes: PortalRoutes.cookieRoutes)
                selfAuthenticating += PortalRoutes.paths + PortalRoutes.oidcPaths(configuration.oidcProviders)
            }
            let pipeline = SecurityPipeline(
                configuration: .init(
                    verifier: verifier, mode: configuration.mode,
                    // /metrics needs no credential from a local client, or from anyone when the operator says so.
                    publicPaths: publicPaths,
                    localPaths: configuration.metricsPublic ? [] : ["/metrics"],
                    policy: policy,
                    rateLimiter: RateLimiter(
                        scopes: rateLimitScopes + configuration.upstreams.map(\.rateLimit) + (runs == nil ? [] : [Egress.rateLimit]),
                        store: rateLimitStore, ticks: ticks),
                    clientAddresses: ClientAddressResolver(trustedProxies: configuration.trustedProxies),
                    bodyLimits: bodyLimits, cors: cors, authenticators: authenticators,
                    credentialLocations: credentialLocations,
                    // Webhook paths always: without a secret their route does not exist (404), never
                    // 401. The portal's pages check their cookie and forms themselves.
                    selfAuthenticatingPaths: Set(selfAuthenticating)
                ))
            return Current(
                pipeline: pipeline,
                minter: TokenMinter(keyring: keyring, policy: configuration.tokenPolicy, clock: clock),
                sessionMinter: TokenMinter(keyring: keyring, policy: sessionPolicy, clock: clock),
                browserMinter: TokenMinter(keyring: keyring, policy: browserPolicy, clock: clock),
                pendingMinter: TokenMinter(keyring: keyring, policy: pendingPolicy, clock: clock),
                pendingVerifier: TokenVerifier(
                    keyring: keyring, policy: pendingPolicy, clock: clock, revocations: SessionRevocations(list: revocations)),
                leaseMinter: TokenMinter(keyring: keyring, policy: leasePolicy, clock: clock), leaseAuthenticator: leaseAuthenticator,
                forms: try keyring.primary.map { try FormProtection(secret: $0.secret) },
                flowKey: try keyring.primary.map { try OIDCFlow.key(from: $0.secret) },
                assertions: try configuration.identityAssertion.map {
                    try IdentityAssertions(keyring: keyring, configuration: $0, clock: clock)
                },
                policy: policy
            )
        }

        /// Queues an event done by `actor` (a subject) for request `requestID` for the audit log,
        /// stamped now.
        func audit(
            _ requestID: String, _ action: String, actor: String, target: String = "", client: String = "",
            details: [String: String] = [:]
        ) {
            audit?.record(
                AuditEvent(
                    time: clock.now() * 1000, actor: actor, action: action, target: target, requestID: requestID, client: client,
                    details: details
                ))
        }

        /// The token rules of user sessions: the agent tokens' rules under the audience
        /// `<audience>-session`, lasting at most 12 hours by default.
        static func sessionPolicy(_ tokens: TokenPolicy) throws -> TokenPolicy {
            do {
                return try TokenPolicy(
                    audience: String(tokens.audience.prefix(120)) + "-session", maximumLifetime: .seconds(tokens.maximumLifetime),
                    defaultLifetime: .seconds(min(tokens.defaultLifetime, 12 * 3600)), leeway: .seconds(tokens.leeway)
                )
            } catch {
                throw AgentHostError(.configuration, "the session token rules cannot be derived from the token rules: \(error)")
            }
        }

        /// The token rules of leases: the agent tokens' rules under the audience `<audience>-lease`.
        static func leasePolicy(_ tokens: TokenPolicy) throws -> TokenPolicy {
            do {
                return try TokenPolicy(
                    audience: String(tokens.audience.prefix(120)) + "-lease", maximumLifetime: .seconds(tokens.maximumLifetime),
                    defaultLifetime: .seconds(tokens.defaultLifetime), leeway: .seconds(tokens.leeway)
                )
            } catch {
                throw AgentHostError(.configuration, "the lease token rules cannot be derived from the token rules: \(error)")
            }
        }

        /// The token rules of browser sessions: the agent tokens' audience with `-browser`, the
        /// `CredentialKind.browserSession` prefix, and the portal's lifetime.
        static func browserPolicy(_ tokens: TokenPolicy, portal: PortalConfiguration) throws -> TokenPolicy {
            do {
                return try TokenPolicy(
                    audience: String(tokens.audience.prefix(120)) + "-browser", maximumLifetime: portal.lifetime,
                    defaultLifetime: portal.lifetime, leeway: .seconds(tokens.leeway), kind: .browserSession
                )
            } catch {
                throw AgentHostError(.configuration, "the browser session rules cannot be derived from the token rules: \(error)")
            }
        }

        /// Loads the stored revocations into the verifier's memory: at start, and then every few
        /// seconds so revocations made through another server sharing the store take effect here.
        public func refreshRevocations() async throws {
            guard let revocationStore else { return }
            try await revocationStore.revocations(now: clock.now()).apply(to: revocations)
        }
    }

    /// Query parameters whose values a span never records: AgentHost reads no credential from a
    /// URL, but a misconfigured client may still put one there.
    static let credentialQueryParameters: Set<String> = [
        "token", "access_token", "id_token", "refresh_token", "api_key", "apikey", "key", "secret", "client_secret",
        "password", "code", "state", "signature", "sig", "auth", "authorization", "session", "x-api-key",
    ]

    /// The router with every AgentHost route.
    public static func router(components: Components) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        // Request durations by route template (never the raw path), method and the status sent;
        // every error below it, an unknown route's included, becomes problem+json.
        let routes = RouteTable()
        router.add(middleware: RequestMetricsMiddleware(metrics: components.metrics, routes: routes))
        if components.configuration.tracing {
            // No header is recorded, and a query parameter that may hold a credential is redacted.
            router.add(middleware: TracingMiddleware(redactingQueryParameters: AgentHost.credentialQueryParameters))
        }
        addRoutes(to: router, components: components)
        routes.install(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
        return router
    }

    /// The router that answers WebSocket upgrades (`GET /ws/system`), for servers that assemble
    /// their own application: pass it to `.http1WebSocketUpgrade(webSocketRouter:)`.
    public static func webSocketRouter(components: Components) -> Router<SystemStreamContext> {
        SystemStream.router(components: components)
    }

    /// A Hummingbird application serving AgentHost on the configured address, with the
    /// operator stream's WebSocket upgrade. ``AgentHostServer`` builds one over a store; this is the
    /// part for an embedder that assembles its own components.
    ///
    /// `services` run beside the server: started before it, stopped after it.
    /// `onServerRunning` receives the bound port (useful with port 0).
    public static func application(
        configuration: AgentHostConfiguration, components: Components, logger: Logger, services: [any Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(components: components),
            server: server(limits: configuration.connectionLimits, components: components),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agenthost"),
            // The proxy's clients are shut down after the server, once no call can use them.
            services: (components.proxy.map { [$0] } ?? []) + services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }

    /// HTTP/1 with the operator stream's WebSocket upgrade, every connection held to `limits` by a
    /// ``ConnectionGuard``. The parser's own limits are set to the same sizes: the guard counts
    /// every head it sees begin, and the parser catches a pipelined one it did not.
    static func server(limits: ConnectionLimits, components: Components) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter(components: components).buildResponder()
        let http1 = HTTP1Channel.Configuration(
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.headBytes, maxHeaderListSize: limits.headBytes, maxHeaderFieldCount: limits.headerFields
            )
        )
        let slots = ConnectionSlots(limit: limits.connections)
        return HTTPServerBuilder { responder in
            GuardedServerChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder, configuration: .init(http1: http1)),
                limits: limits, slots: slots, metrics: components.metrics
            )
        }
    }

    /// The namespace of AgentHost's problem types: every problem+json it sends has the type
    /// `urn:agenthost:problem:` and its code with dashes.
    public static let problemNamespace = "urn:agenthost:problem:"

    /// How long an accepted webhook delivery (and so its id) is kept: 7 days.
    public static let webhookRetention: Int64 = 7 * 86_400

    /// The lines printed above the setup token at the first start.
    public static let setupTokenNotice = [
        "Setup token (single use, valid 24 hours). To store credentials from another machine, send it as X-Setup-Token",
        "with POST /api/credentials; from this machine none is needed. 'agenthost setup-token' makes a new one.",
    ]

    /// The warning header-trust mode prints at start, one line per entry.
    public static let headerTrustWarning = [
        "HEADER-TRUST MODE: requests without a token are believed to be whoever their X-Agent-ID / X-Agent-Role headers say.",
        "Anyone who can reach this port can claim any identity. Use it only on a trusted network; use --mode secure everywhere else.",
    ]
}
