public import Hummingbird
public import Logging
public import SecurityCore

/// Builds the AgentHost HTTP application: routes behind the security middleware.
public enum AgentHost {
    /// Everything a running server needs, assembled from a configuration and a keyring.
    public struct Components: Sendable {
        public let pipeline: SecurityPipeline
        public let minter: TokenMinter
        public let revocations: InMemoryRevocationList
        /// The policy in force.
        public let policy: Policy
        /// Credentials in the vault; `nil` when the server runs without a store (the credential
        /// routes then answer `503`).
        public let credentials: CredentialService?
        /// Where revocations persist; `nil` keeps them in memory only (lost on restart).
        public let revocationStore: (any RevocationStore)?
        let clock: any TimeSource

        /// Throws ``AgentHostError`` for a CORS origin or body cap that cannot be used, and
        /// ``PolicyLoadError`` if the embedded default policy does not load.
        public init(
            configuration: AgentHostConfiguration, keyring: Keyring, credentials: CredentialService? = nil,
            revocationStore: (any RevocationStore)? = nil, clock: any TimeSource = SystemTimeSource(),
            ticks: any TickSource = SystemTickSource()
        ) throws {
            let revocations = InMemoryRevocationList(clock: clock)
            let verifier = TokenVerifier(keyring: keyring, policy: configuration.tokenPolicy, clock: clock, revocations: revocations)
            let policy = try configuration.policy ?? DefaultPolicy.load()
            let cors: CORSPolicy?
            let bodyLimits: BodyLimits
            do {
                cors = configuration.corsOrigins.isEmpty ? nil : try CORSPolicy(allowedOrigins: configuration.corsOrigins)
                bodyLimits = try BodyLimits(default: configuration.bodyLimit)
            } catch let error as CORSConfigurationError {
                throw AgentHostError("--cors-origin: \(error.reason)")
            } catch {
                throw AgentHostError("\(error)")
            }
            let limiter = RateLimiter(
                scopes: configuration.rateLimitScopes,
                store: InMemoryRateLimitStore(maximumKeys: configuration.rateLimitKeys), ticks: ticks
            )
            self.pipeline = SecurityPipeline(configuration: .init(
                verifier: verifier, mode: configuration.mode, policy: policy, rateLimiter: limiter,
                clientAddresses: ClientAddressResolver(trustedProxies: configuration.trustedProxies),
                bodyLimits: bodyLimits, cors: cors
            ))
            self.minter = TokenMinter(keyring: keyring, policy: configuration.tokenPolicy, clock: clock)
            self.revocations = revocations
            self.policy = policy
            self.credentials = credentials
            self.revocationStore = revocationStore
            self.clock = clock
        }

        /// Loads the stored revocations into the verifier's memory: at start, and then every few
        /// seconds so revocations made through another server sharing the store take effect here.
        public func refreshRevocations() async throws {
            guard let revocationStore else { return }
            try await revocationStore.revocations(now: clock.now()).apply(to: revocations)
        }
    }

    /// The router with every AgentHost route.
    public static func router(components: Components) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        addRoutes(to: router, components: components)
        return router
    }

    /// A Hummingbird application serving AgentHost on the configured address.
    ///
    /// `onServerRunning` receives the bound port (useful with port 0).
    public static func application(
        configuration: AgentHostConfiguration, components: Components, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(components: components),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agenthost"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }

    /// The warning header-trust mode prints at start, one line per entry.
    public static let headerTrustWarning = [
        "HEADER-TRUST MODE: requests without a token are believed to be whoever their X-Agent-ID / X-Agent-Role headers say.",
        "Anyone who can reach this port can claim any identity. Use it only on a trusted network; use --mode secure everywhere else.",
    ]
}
