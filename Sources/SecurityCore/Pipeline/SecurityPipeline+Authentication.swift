import HTTPTypes

extension SecurityPipeline {
    /// Establishes who the request acts for, or the 401 that refuses it.
    public func authenticate(_ facts: RequestFacts) -> Result<Principal, Refusal> {
        let raw = facts.pathWithoutQuery
        let path = RequestPath.canonical(raw) ?? raw
        return identify(facts, path: path).mapError { unauthorized($0, method: facts.method, path: path) }
    }

    /// ``authenticate(_:)`` with the reason as a value: the pipeline builds the 401 only when it
    /// refuses. `path` is the canonical path, for the routes that take credentials in other places.
    /// Under forward auth (`forwardAuth`), `path` is the original request's and the session
    /// cookie is read whatever it is: the browser's cookie reached `/auth/verify`.
    func identify(_ facts: RequestFacts, path: Substring, forwardAuth: Bool = false) -> Result<Principal, AuthenticationFailure> {
        let credential: PresentedCredential?
        let headers: CredentialHeaders
        switch extractor.extract(facts, method: facts.method, path: path, readsCookie: forwardAuth) {
        case .success(let found): (credential, headers) = found
        case .failure(let failure): return .failure(failure)
        }
        guard let credential else {
            guard configuration.mode == .headerTrust else {
                return .failure(AuthenticationFailure(.missingCredential, "no credential was presented"))
            }
            return TrustedHeaders.principal(headers)
        }
        var answer: Result<Principal, AuthenticationFailure>?
        for authenticator in authenticators where credential.isOfKind(authenticator.kind) {
            answer = authenticator.authenticate(credential)
            if answer != nil { break }
        }
        let principal: Principal
        switch answer ?? .failure(AuthenticationFailure(.invalidCredential, "no authenticator knows this kind of credential")) {
        case .success(let proven): principal = proven
        case .failure(let failure):
            return .failure(credential.isSpacedBearer ? CredentialExtractor.unsupportedScheme : failure)
        }
        // Identity binding: headers that name an identity must name the credential's.
        if let agent = headers.agent, agent != principal.subject.name {
            return .failure(AuthenticationFailure(.identityMismatch, "X-Agent-ID names someone else", header: "X-Agent-ID"))
        }
        if let role = headers.role, role != principal.role.rawValue {
            return .failure(AuthenticationFailure(.identityMismatch, "X-Agent-Role names another role", header: "X-Agent-Role"))
        }
        if let team = headers.team, team != principal.team.rawValue {
            return .failure(AuthenticationFailure(.identityMismatch, "X-Agent-Team names another team", header: "X-Agent-Team"))
        }
        return .success(principal)
    }

    /// Whether the request carries anything that claims an identity: a credential in any place
    /// it may be, or in header-trust mode an `X-Agent-ID` header. Without one, a policy that
    /// allows anonymous access decides.
    func presentsCredential(_ facts: RequestFacts, method: String, path: Substring, forwardAuth: Bool = false) -> Bool {
        for field in facts.fields {
            let name = field.name.canonicalName
            if name == "authorization" || name == "x-agent-token" { return true }
            if configuration.mode == .headerTrust, name == "x-agent-id" { return true }
        }
        for named in configuration.credentialLocations.namedHeaders
        where named.routes.contains(where: { $0.matches(method: method, path: path) }) && !facts.values(of: named.name).isEmpty {
            return true
        }
        if let cookie = configuration.credentialLocations.cookie,
            forwardAuth || cookie.routes.contains(where: { $0.matches(method: method, path: path) }),
            CookieHeader.valueBytes(named: cookie.name, in: facts.values(of: "cookie")) != .none
        {
            return true
        }
        return false
    }

    // MARK: Refusals

    /// Whether the route takes the password of HTTP Basic as a credential.
    func offersBasic(method: String, path: Substring) -> Bool {
        !configuration.credentialLocations.basicPassword.isEmpty
            && configuration.credentialLocations.basicPassword.contains { $0.matches(method: method, path: path) }
    }

    /// The 401 for `failure`. Its `WWW-Authenticate` offers Bearer and, on a route that takes the
    /// password of HTTP Basic (``CredentialLocations/basicPassword``), Basic too: git answers only
    /// a Basic challenge with the credential its helper holds.
    func unauthorized(_ failure: AuthenticationFailure, method: String, path: Substring) -> Refusal {
        let code: ProblemCode
        let detail: String
        var bearerError: String? = "invalid_request"
        switch failure.code {
        case .missingCredential:
            code = .missingCredential
            detail = "This endpoint needs a credential: send Authorization: Bearer <token> or X-Agent-Token."
            bearerError = nil
        case .unsupportedScheme:
            code = .unsupportedScheme
            detail = "The Authorization header must use the Bearer scheme with a single token."
        case .ambiguousCredentials:
            code = .ambiguousCredentials
            detail = "More than one credential was sent; send exactly one token."
        case .ambiguousIdentity:
            code = .ambiguousIdentity
            detail = "An X-Agent-* identity header was sent more than once."
        case .identityMismatch:
            bearerError = "invalid_token"
            code = .identityMismatch
            detail = "The \(failure.header ?? "identity") header does not match the identity the token was minted for."
        case .missingIdentityHeaders:
            code = .missingCredential
            detail = "Send a token, or in header-trust mode both X-Agent-ID and X-Agent-Role."
        case .invalidIdentityHeaders:
            code = .invalidIdentityHeaders
            detail = "X-Agent-ID, X-Agent-Role and X-Agent-Team must be 1-128 characters of A-Z a-z 0-9 _ - (team may be empty)."
        case .expired:
            bearerError = "invalid_token"
            code = .tokenExpired
            detail = "The token has expired."
        case .revoked, .unknownUser, .sessionEnded:
            // A session whose user is gone or whose password changed is revoked, as far as a client
            // needs to know.
            bearerError = "invalid_token"
            code = .tokenRevoked
            detail = "The token has been revoked."
        case .notYetValid:
            bearerError = "invalid_token"
            code = .tokenNotYetValid
            detail = "The token is not valid yet; check the clocks."
        default:
            // Malformed, unknown key, bad signature, wrong audience, unknown API key: one answer,
            // so a client learns nothing about which check failed.
            bearerError = "invalid_token"
            code = .invalidToken
            detail = "The token is not valid."
        }
        var challenge = "Bearer realm=\"\(configuration.realm)\""
        if let bearerError {
            challenge += ", error=\"\(bearerError)\""
        }
        var headers = [HeaderField(name: "WWW-Authenticate", value: challenge)]
        if offersBasic(method: method, path: path) {
            headers.append(HeaderField(name: "WWW-Authenticate", value: "Basic realm=\"\(configuration.realm)\""))
        }
        return Refusal(status: 401, code: code, detail: detail, headers: headers)
    }
}
