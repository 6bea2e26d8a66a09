/// The framework-free security check for one request: facts in, an outcome out.
///
/// ``evaluate(_:)`` runs DESIGN.md's order and stops at the first refusal:
/// 1. size: a declared body over the route's cap → 413;
/// 2. exempt paths (`/health`), and local-only paths (`/metrics`) to a local client, are served
///    from here on without a credential or limits;
/// 3. the client's rate limits, and its budget of failed authentications → 429;
///    a CORS preflight is answered here, and a self-authenticating path (a login) is let through
///    with no principal, its handler checking the credential;
/// 4. authentication → 401 with `WWW-Authenticate` (a failure also spends from the client's
///    authentication-failure budget);
/// 5. the policy's decision → 403 naming the rule (401 for an anonymous request it refuses);
/// 6. every applicable rate limit, client and principal keyed, spent together → 429;
/// 7. allow, with the rate-limit and CORS headers to add to the response.
///
/// A credential that is presented is always verified, in every mode: the ``Authenticator``s claim
/// it by its shape (agent tokens first, then ``Configuration/authenticators``). Credentials are read
/// from `Authorization: Bearer …` or `X-Agent-Token`, and on the routes ``CredentialLocations``
/// names from HTTP Basic's password or a named header; never from the query string.
///
/// ```swift
/// let pipeline = SecurityPipeline(configuration: .init(verifier: verifier, policy: policy))
/// switch pipeline.evaluate(facts) {
/// case .allow(let principal, let headers): serve(principal, headers)
/// case .preflight(let headers): respond(204, headers)
/// case .deny(let refusal): respond(refusal.status, refusal.problem.json, refusal.headers)
/// }
/// ```
public struct SecurityPipeline: Sendable {
    /// What the pipeline enforces.
    public struct Configuration: Sendable {
        /// Verifies agent tokens: the first authenticator.
        public var verifier: TokenVerifier
        /// Secure (credential required) or header-trust.
        public var mode: AuthenticationMode
        /// Paths served without a credential or rate limits (exact match, query ignored), such as
        /// `/health`.
        public var publicPaths: Set<String>
        /// Paths (exact, query ignored) served without a credential or rate limits to a local
        /// client only (``ClientAddressResolver/isLocal(peer:headers:)``), such as `/metrics`; any
        /// other client is authenticated and authorized as usual.
        public var localPaths: Set<String>
        /// The realm named in `WWW-Authenticate`.
        public var realm: String
        /// The authorization policy. `nil` permits every authenticated principal everything, which
        /// suits only an embedding that authorizes on its own.
        public var policy: Policy?
        /// The rate limits; `nil` for none.
        public var rateLimiter: RateLimiter?
        /// How the client's address is found (trusted proxies).
        public var clientAddresses: ClientAddressResolver
        /// Body caps.
        public var bodyLimits: BodyLimits
        /// Which browser origins may call; `nil` sends no CORS headers and refuses preflights.
        public var cors: CORSPolicy?
        /// The authenticators of other credentials (user sessions, API keys, devices), asked in
        /// order after the agent-token one; empty accepts agent tokens only.
        public var authenticators: [any Authenticator]
        /// Where else than `Authorization: Bearer` and `X-Agent-Token` a credential may be.
        public var credentialLocations: CredentialLocations
        /// Paths (exact, query ignored) that are rate-limited like any other but need no credential
        /// and skip the policy, because their handler authenticates on its own: `POST /api/login`
        /// checks a password, onboarding a loopback peer or a setup token.
        public var selfAuthenticatingPaths: Set<String>

        public init(
            verifier: TokenVerifier, mode: AuthenticationMode = .secure,
            publicPaths: Set<String> = ["/health"], localPaths: Set<String> = [], realm: String = "agenthost",
            policy: Policy? = nil, rateLimiter: RateLimiter? = RateLimiter(),
            clientAddresses: ClientAddressResolver = ClientAddressResolver(),
            bodyLimits: BodyLimits = .standard, cors: CORSPolicy? = nil,
            authenticators: [any Authenticator] = [], credentialLocations: CredentialLocations = CredentialLocations(),
            selfAuthenticatingPaths: Set<String> = []
        ) {
            self.verifier = verifier
            self.mode = mode
            self.publicPaths = publicPaths
            self.localPaths = localPaths
            self.realm = realm
            self.policy = policy
            self.rateLimiter = rateLimiter
            self.clientAddresses = clientAddresses
            self.bodyLimits = bodyLimits
            self.cors = cors
            self.authenticators = authenticators
            self.credentialLocations = credentialLocations
            self.selfAuthenticatingPaths = selfAuthenticatingPaths
        }
    }

    /// The configuration in force.
    public let configuration: Configuration
    /// Every authenticator, in the order they are asked: agent tokens, then the configured ones.
    let authenticators: [any Authenticator]
    let extractor: CredentialExtractor

    /// The kinds of credential this pipeline accepts, one per kind, in the order first asked:
    /// what a proxy must never forward and a log never show.
    public let credentialKinds: [CredentialKind]

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.authenticators = [AgentTokenAuthenticator(verifier: configuration.verifier)] + configuration.authenticators
        self.extractor = CredentialExtractor(locations: configuration.credentialLocations)
        var seen = Set<CredentialKind>()
        self.credentialKinds = authenticators.map(\.kind).filter { seen.insert($0).inserted }
    }

    /// The body cap of a request, for servers that enforce it while reading.
    public func bodyLimit(method: String, path: String) -> Int {
        let raw = withoutQuery(path[...])
        return configuration.bodyLimits.limit(method: method, path: RequestPath.canonical(raw) ?? raw)
    }

    /// Decides about one request.
    public func evaluate(_ facts: RequestFacts) -> SecurityOutcome {
        let cors = configuration.cors?.responseHeaders(origin: facts.values(of: "origin").first) ?? []
        guard let path = RequestPath.canonical(facts.pathWithoutQuery) else {
            return .deny(Self.badPath.adding(cors))
        }
        if let length = facts.bodyLength, length > 0 {  // an empty body fits every cap
            let limit = configuration.bodyLimits.limit(method: facts.method, path: path)
            if length > limit { return .deny(Self.bodyTooLarge(limit: limit).adding(cors)) }
        }
        let pathText = String(path)
        if Self.contains(configuration.publicPaths, pathText) {
            return .allow(principal: nil, headers: cors)
        }
        if !configuration.localPaths.isEmpty, Self.contains(configuration.localPaths, pathText), isLocal(facts) {
            return .allow(principal: nil, headers: cors)
        }
        let client = configuration.clientAddresses.clientAddress(peer: facts.peerAddress, fields: facts.fields)
        if let preflight = preflight(facts, path: path, client: client) { return preflight }
        if Self.contains(configuration.selfAuthenticatingPaths, pathText) {
            return admitUnauthenticated(method: facts.method, path: path, client: client, extraHeaders: cors)
        }
        return decide(method: facts.method, path: path, also: nil, facts: facts, client: client, extraHeaders: cors)
    }

    /// Whether the request comes from this machine itself
    /// (``ClientAddressResolver/isLocal(peer:headers:)`` under the configured trusted proxies): what
    /// ``Configuration/localPaths`` and the policy's `loopback` condition mean.
    public func isLocal(_ facts: RequestFacts) -> Bool {
        configuration.clientAddresses.isLocal(peer: facts.peerAddress, fields: facts.fields)
    }

    /// `paths.contains(path)`, comparing a handful of paths directly rather than hashing: the
    /// exempt lists are short, and hashing a path cost more than comparing it with one or two.
    static func contains(_ paths: Set<String>, _ path: String) -> Bool {
        guard paths.count > 4 else { return paths.contains { $0 == path } }
        return paths.contains(path)
    }

    /// Steps 3 to 7 for a request (the original one, under forward auth).
    func decide(
        method: String, path: Substring, also: RateLimiter.RouteTarget?, facts: RequestFacts, client: IPAddress?,
        extraHeaders: [HeaderField]
    ) -> SecurityOutcome {
        // `configuration.rateLimiter?` and `configuration.policy?` each time, rather than a local
        // copy: a copy of either retains every reference it holds.
        let clientKey = client?.description
        // One clock reading for both limiter steps: the request arrived once.
        let now = configuration.rateLimiter?.now()
        if let decision = configuration.rateLimiter?.check(method: method, path: path, also: also, client: clientKey, at: now),
            !decision.allowed, let refusal = decision.refusal
        {
            return .deny(refusal.adding(extraHeaders))
        }

        var principal: Principal?
        if configuration.policy?.allowsAnonymous == true, !presentsCredential(facts, method: method, path: path, forwardAuth: also != nil) {
            principal = nil
        } else {
            switch identify(facts, path: path, forwardAuth: also != nil) {
            case .success(let authenticated): principal = authenticated
            case .failure(let failure):
                let guessed = Self.isGuess(failure, forwardAuth: also != nil, offersBasic: offersBasic(method: method, path: path))
                configuration.rateLimiter?.recordRefused(
                    method: method, path: path, also: also, client: clientKey, authenticationFailed: guessed)
                return .deny(unauthorized(failure, method: method, path: path).adding(extraHeaders))
            }
        }

        if let decision = configuration.policy?.decide(
            PolicyRequest(
                principal: principal?.policyPrincipal,
                // Only a loopback client can be local: the cheap test first.
                method: method, path: String(path), isLoopback: client?.isLoopback == true && isLocal(facts)
            ))
        {
            if !decision.isPermitted {
                configuration.rateLimiter?.recordRefused(
                    method: method, path: path, also: also, client: clientKey, authenticationFailed: false)
                var refusal =
                    principal == nil
                    ? unauthorized(
                        AuthenticationFailure(.missingCredential, "the policy allows no anonymous request here"), method: method, path: path
                    )
                    : Self.forbidden(decision)
                refusal.principal = principal
                return .deny(refusal.adding(extraHeaders))
            }
        }

        var headers = extraHeaders
        if let decision = configuration.rateLimiter?.admit(
            method: method, path: path, also: also, client: clientKey, principal: principal?.id, at: now
        ) {
            if !decision.allowed, var refusal = decision.refusal {
                refusal.principal = principal
                return .deny(refusal.adding(extraHeaders))
            }
            headers = extraHeaders.isEmpty ? decision.headers : decision.headers + extraHeaders
        }
        return .allow(principal: principal, headers: headers)
    }

    /// Whether a failed authentication spends the client's `auth-failures` budget: whether it
    /// could be someone guessing.
    /// - No credential where a Basic challenge is offered is the first half of that handshake (git
    ///   sends every request without one first).
    /// - Under forward auth, only a credential that is not authentic counts. A browser signed out
    ///   loads a page and each of its assets without one, and with an ended session it keeps
    ///   sending that cookie until it signs in again: neither is a guess, and counting them would
    ///   answer a person's next page load 429 instead of sending them to sign in.
    static func isGuess(_ failure: AuthenticationFailure, forwardAuth: Bool, offersBasic: Bool) -> Bool {
        switch failure.code {
        case .missingCredential: !offersBasic && !forwardAuth
        case .expired, .revoked, .sessionEnded, .unknownUser, .notYetValid: !forwardAuth
        default: true
        }
    }

    /// A self-authenticating path: the client's rate limits apply, the handler decides the rest.
    private func admitUnauthenticated(method: String, path: Substring, client: IPAddress?, extraHeaders: [HeaderField]) -> SecurityOutcome {
        guard let limiter = configuration.rateLimiter else { return .allow(principal: nil, headers: extraHeaders) }
        // The client's failure budget too: a client that ran out of failed logins is refused here.
        if let refusal = limiter.check(method: method, path: path, client: client?.description).refusal {
            return .deny(refusal.adding(extraHeaders))
        }
        let decision = limiter.admit(method: method, path: path, client: client?.description, principal: nil)
        if let refusal = decision.refusal { return .deny(refusal.adding(extraHeaders)) }
        return .allow(principal: nil, headers: decision.headers + extraHeaders)
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`),
    /// or `nil` when the request is not one.
    private func preflight(_ facts: RequestFacts, path: Substring, client: IPAddress?) -> SecurityOutcome? {
        guard facts.method == "OPTIONS" else { return nil }
        let origins = facts.values(of: "origin")
        let methods = facts.values(of: "access-control-request-method")
        guard origins.count == 1, methods.count == 1 else { return nil }
        guard let cors = configuration.cors else { return .deny(Self.preflightRefused("CORS is not enabled on this server.")) }
        if let limiter = configuration.rateLimiter {
            let decision = limiter.admit(method: facts.method, path: path, client: client?.description, principal: nil)
            if let refusal = decision.refusal { return .deny(refusal) }
        }
        switch cors.preflight(origin: origins[0], method: methods[0], requestHeaders: facts.values(of: "access-control-request-headers")) {
        case .success(let headers): return .preflight(headers: headers)
        case .failure(.origin): return .deny(Self.preflightRefused("This origin may not call the API."))
        case .failure(.method): return .deny(Self.preflightRefused("This method is not allowed from a browser."))
        case .failure(.headers): return .deny(Self.preflightRefused("A requested header is not allowed from a browser."))
        }
    }

    // MARK: Refusals

    static let badPath = Refusal(
        status: 400, code: .invalidPath,
        detail:
            "The request path must start with / and may not contain control characters, an escaped / or \\, a broken percent-escape, or a . or .. segment."
    )

    /// The 413 for a body over `limit` bytes: what ``evaluate(_:)`` answers for a declared length,
    /// and what a server answers when a body grows past ``bodyLimit(method:path:)`` while read.
    public static func bodyTooLarge(limit: Int) -> Refusal {
        Refusal(
            status: 413, code: .bodyTooLarge, detail: "The request body is larger than this route accepts (\(limit) bytes).",
            extensions: ["limit": .integer(Int64(limit))]
        )
    }

    static func forbidden(_ decision: PolicyDecision) -> Refusal {
        var extensions: [String: JSONValue] = ["rules": .array(decision.rules.map { .string($0) })]
        if let action = decision.action { extensions["action"] = .string(action) }
        let detail =
            decision.rules.isEmpty
            ? "No policy rule permits this request."
            : "The policy forbids this request (rule \(decision.rules.joined(separator: ", ")))."
        return Refusal(status: 403, code: .forbidden, detail: detail, extensions: extensions)
    }

    static func preflightRefused(_ detail: String) -> Refusal {
        Refusal(status: 403, code: .corsRefused, detail: detail)
    }
}

extension Refusal {
    /// The refusal with `headers` added (CORS headers, so a browser page can read why).
    func adding(_ extra: [HeaderField]) -> Refusal {
        guard !extra.isEmpty else { return self }
        var copy = self
        copy.headers += extra
        return copy
    }
}
