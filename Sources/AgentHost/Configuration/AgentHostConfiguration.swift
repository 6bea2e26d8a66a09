public import SecurityCore

/// How an AgentHost server is set up: where it listens, where it keeps state, how it authenticates.
public struct AgentHostConfiguration: Sendable {
    /// The address to bind. Loopback by default.
    public var host: String
    /// The TCP port; 0 picks a free one.
    public var port: Int
    /// Where the keyring file and, later, the store live.
    public var dataDirectory: String
    /// Secure (the default) or header-trust.
    public var mode: AuthenticationMode
    /// Allows header-trust mode on a non-loopback address. Off by default.
    public var allowUntrustedNetwork: Bool
    /// Token audience, lifetimes and leeway.
    public var tokenPolicy: TokenPolicy
    /// The authorization policy; `nil` for the embedded default (``DefaultPolicy``).
    public var policy: Policy?
    /// The file ``policy`` was loaded from, named in the start-up log and audit record; `nil` for
    /// the embedded default or a policy built in code.
    public var policyFile: String?
    /// The store: `postgres://user:password@host:port/db` or `sqlite:PATH`. `nil` means
    /// `AGENTHOST_DATABASE_URL` when set, else `agenthost.sqlite` in the data directory.
    public var databaseURL: String?
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are believed, and which may call
    /// `/auth/verify`.
    public var trustedProxies: [IPNetwork]
    /// The services agents reach through `/proxy/{name}/...` with a granted secret injected
    /// (Docs/BROKERED.md); none by default. Read at start: a change needs a restart.
    public var upstreams: [Upstream] = []
    /// Authenticators of an embedder's own credential kinds, asked after AgentHost's (agent tokens,
    /// sessions, API keys, devices, setup tokens). Each declares its `CredentialKind`, and that
    /// declaration alone makes the proxy strip the kind from calls to upstreams. None by default.
    public var authenticators: [any Authenticator] = []
    /// Browser origins allowed by CORS; empty for none.
    public var corsOrigins: [String]
    /// The rate-limit scopes; agtOS's defaults unless configured.
    public var rateLimitScopes: [RateLimitScope]
    /// The most tracked rate-limit keys.
    public var rateLimitKeys: Int
    /// The body cap of every route, in bytes.
    public var bodyLimit: Int
    /// Serve `GET /metrics` without a credential to every client. Off by default: then only a local
    /// client (`SecurityPipeline/isLocal(_:)`) reads it without one, and anyone else needs the
    /// policy's `metrics.read`.
    public var metricsPublic: Bool = false
    /// What one connection may send and how long it may take.
    public var connectionLimits = ConnectionLimits()
    /// Records a span per request through swift-distributed-tracing (Hummingbird's
    /// `TracingMiddleware`), for the tracer bootstrapped in `InstrumentationSystem`. Off by
    /// default: without a tracer the spans go nowhere. `serve --otlp-endpoint` turns it on.
    public var tracing = false
    /// The sign-in portal for people at a browser (Docs/SIGN_IN.md); `nil`, the default, serves
    /// no portal and reads no cookie.
    public var portal: PortalConfiguration?
    /// The identity providers people may sign in with at the portal (Docs/SIGN_IN.md); none by
    /// default. Read at start: a change needs a restart.
    public var oidcProviders: [OIDCProviderConfiguration] = []
    /// The signed identity of forward auth (`X-Auth-Assertion`, served keys at
    /// `/.well-known/jwks.json`); `nil`, the default, signs nothing and serves no keys.
    public var identityAssertion: IdentityAssertionConfiguration?
    /// How long a lease of `agenthost run` lives past its launcher's last renewal (Docs/RUN.md):
    /// 30 seconds by default, 3 s to 1 h.
    public var leaseTTL: Duration = .seconds(AgentRuns.defaultLeaseTTL)
    /// The port of the CONNECT proxy for launched agents (`HTTPS_PROXY`, Docs/RUN.md), on
    /// ``host``; `nil`, the default, opens none (a run may then reach no other host); 0 picks a
    /// free one.
    public var connectPort: Int?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, dataDirectory: String = ".agenthost",
        mode: AuthenticationMode = .secure, allowUntrustedNetwork: Bool = false, tokenPolicy: TokenPolicy,
        policy: Policy? = nil, trustedProxies: [IPNetwork] = [], corsOrigins: [String] = [],
        rateLimitScopes: [RateLimitScope] = RateLimitScope.agentHost, rateLimitKeys: Int = 1_000_000,
        bodyLimit: Int = 1 << 20
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.mode = mode
        self.allowUntrustedNetwork = allowUntrustedNetwork
        self.tokenPolicy = tokenPolicy
        self.policy = policy
        self.trustedProxies = trustedProxies
        self.corsOrigins = corsOrigins
        self.rateLimitScopes = rateLimitScopes
        self.rateLimitKeys = rateLimitKeys
        self.bodyLimit = bodyLimit
    }

    /// `scopes` with the limits `specifications` give: each `NAME=LIMIT/PERIOD[/BURST]` (such as
    /// `general=600/1m` or `auth-failures=20/1m/40`) replaces that scope's limit, period and burst
    /// (the burst is the limit unless given), keeping its key, what it counts and its routes.
    /// Throws ``AgentHostError`` for an unknown scope, a malformed specification or a value the
    /// limiter refuses.
    public static func rateLimitScopes(_ scopes: [RateLimitScope], overriddenBy specifications: [String]) throws -> [RateLimitScope] {
        var scopes = scopes
        for specification in specifications {
            let usage = "'\(specification.prefix(64))': write NAME=LIMIT/PERIOD[/BURST], such as general=600/1m"
            let halves = specification.split(separator: "=", maxSplits: 1).map(String.init)
            guard halves.count == 2 else { throw AgentHostError(.configuration, usage) }
            let parts = halves[1].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3, let limit = Int(parts[0]) else { throw AgentHostError(.configuration, usage) }
            let burst = try parts.count == 3 ? Int(parts[2]) ?? { throw AgentHostError(.configuration, usage) }() : nil
            guard let index = scopes.firstIndex(where: { $0.name == halves[0] }) else {
                let names = scopes.map(\.name).joined(separator: ", ")
                throw AgentHostError(.configuration, "there is no scope '\(halves[0].prefix(64))'; the scopes are \(names)")
            }
            let old = scopes[index]
            do {
                scopes[index] = try RateLimitScope(
                    name: old.name, limit: limit, period: try DurationParser.parse(parts[1]), burst: burst, key: old.key,
                    counts: old.counts, routes: old.routes, shared: old.shared
                )
            } catch let error as RateLimitError {
                throw AgentHostError(.configuration, "'\(specification.prefix(64))': \(error.reason)")
            }
        }
        return scopes
    }

    /// `scopes` with each scope named in `names` kept per server: when several servers share a
    /// PostgreSQL store, its budgets are not shared. Throws ``AgentHostError`` for an unknown name.
    public static func rateLimitScopes(_ scopes: [RateLimitScope], perServer names: [String]) throws -> [RateLimitScope] {
        for name in names where !scopes.contains(where: { $0.name == name }) {
            let known = scopes.map(\.name).joined(separator: ", ")
            throw AgentHostError(.configuration, "there is no scope '\(name.prefix(64))'; the scopes are \(known)")
        }
        return scopes.map { names.contains($0.name) ? $0.sharing(false) : $0 }
    }

    /// The data directory: `AGENTHOST_DATA_DIR` when set, else `./.agenthost`.
    public static func defaultDataDirectory(environment: [String: String]) -> String {
        if let value = environment["AGENTHOST_DATA_DIR"], !value.isEmpty { return value }
        return ".agenthost"
    }

    /// Refuses settings that would expose the server: header-trust mode on an address other than
    /// loopback without ``allowUntrustedNetwork``, ports out of range, and connection limits that
    /// cannot work.
    public func validate() throws {
        guard Self.portRange.contains(port) else {
            throw AgentHostError(.configuration, "--port must be between 0 and 65535")
        }
        try connectionLimits.validate()
        var names = Set<String>()
        for upstream in upstreams where !names.insert(upstream.name).inserted {
            throw AgentHostError(.configuration, "upstream \(upstream.name) is configured twice")
        }
        try identityAssertion?.validate()
        var providerNames = Set<String>()
        for provider in oidcProviders {
            try provider.validate()
            guard providerNames.insert(provider.name).inserted else {
                throw AgentHostError(.configuration, "oidc_providers: '\(provider.name)' is named twice")
            }
        }
        if !oidcProviders.isEmpty, portal == nil {
            throw AgentHostError(.configuration, "oidc_providers: people sign in with them at the portal; turn it on (portal: true)")
        }
        if let portal, !portal.passwordSignIn, oidcProviders.isEmpty {
            throw AgentHostError(.configuration, "password_sign_in is off and no oidc_providers is configured: nobody could sign in")
        }
        if let portal {
            try portal.validate()
            // A session cookie never crosses a network in the clear: over plain http it is set
            // only for a loopback host, or behind a proxy that terminates TLS.
            if !Self.isLoopback(host), trustedProxies.isEmpty {
                throw AgentHostError(
                    .configuration,
                    "the portal sets its session cookie only over https: on '\(host)', which is not loopback, put a proxy that "
                        + "terminates TLS in front (nginx, Caddy) and name it with trusted_proxy, or turn the portal off"
                )
            }
        }
        if mode == .headerTrust, !Self.isLoopback(host), !allowUntrustedNetwork {
            throw AgentHostError(
                .configuration,
                "header-trust mode believes any X-Agent-* header without proof, so it only binds a loopback "
                    + "address. '\(host)' is not loopback. Use --host 127.0.0.1, switch to --mode secure, or pass "
                    + "--allow-untrusted-network if this network really is trusted."
            )
        }
    }

    /// The ports ``validate()`` accepts; 0 picks a free one.
    static let portRange = 0...65_535

    /// Whether `host` is a loopback address (127.0.0.0/8, ::1 or localhost).
    public static func isLoopback(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }
}
