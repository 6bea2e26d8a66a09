extension SecurityPipeline {
    /// The path AgentHost answers forward-auth subrequests on.
    public static let forwardAuthPath = "/auth/verify"

    /// Decides a forward-auth subrequest (nginx `auth_request`, Caddy `forward_auth`, Traefik
    /// `forwardAuth`): the request a proxy is about to pass to the platform behind it.
    ///
    /// The original method and URI come from `X-Original-Method` / `X-Original-URI`, or else
    /// `X-Forwarded-Method` / `X-Forwarded-Uri`, and are believed only from a configured trusted
    /// proxy: any other peer gets 403. The original request then goes through steps 3 to 7 of
    /// ``evaluate(_:)`` with the subrequest's headers (its credential, `X-Forwarded-For`); rate
    /// limits count it under both its own route and `GET /auth/verify`. On allow, the headers
    /// include the verified identity (``identityHeaders(for:)``) for the proxy to pass on, so the
    /// platform never has to believe a client's own `X-Agent-*` headers.
    public func evaluateForwardAuth(_ facts: RequestFacts) -> SecurityOutcome {
        guard let peerText = facts.peerAddress, let peer = ClientAddressResolver.parseNode(peerText[...]),
            configuration.clientAddresses.isTrustedProxy(peer)
        else {
            return .deny(
                Refusal(
                    status: 403, code: .untrustedProxy,
                    detail: "Forward-auth requests are answered only for a configured trusted proxy (agenthost serve --trusted-proxy)."
                ))
        }
        let useOriginal = !facts.values(of: "x-original-uri").isEmpty || !facts.values(of: "x-original-method").isEmpty
        let methods = facts.values(of: useOriginal ? "x-original-method" : "x-forwarded-method")
        let uris = facts.values(of: useOriginal ? "x-original-uri" : "x-forwarded-uri")
        guard methods.count == 1, uris.count == 1 else {
            return .deny(
                Refusal(
                    status: 400, code: .missingOriginalRequest,
                    detail:
                        "Send the original request once each in X-Original-Method and X-Original-URI (or X-Forwarded-Method and X-Forwarded-Uri)."
                ))
        }
        let method = methods[0]
        guard (1...20).contains(method.utf8.count),
            method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
        else {
            return .deny(
                Refusal(status: 400, code: .invalidOriginalMethod, detail: "The original method must be 1-20 upper-case letters."))
        }
        let uri = withoutQuery(uris[0][...])
        guard let path = RequestPath.canonical(uri) else { return .deny(Self.badPath) }
        let client = configuration.clientAddresses.clientAddress(peer: peerText, fields: facts.fields)
        let outcome = decide(
            method: method, path: path, also: RateLimiter.RouteTarget(method: "GET", path: Self.forwardAuthPath[...]),
            facts: facts, client: client, extraHeaders: []
        )
        guard case .allow(let principal, let headers) = outcome else { return outcome }
        return .allow(principal: principal, headers: Self.identityHeaders(for: principal) + headers)
    }

    /// `X-Auth-Agent-ID`, `X-Auth-Role`, `X-Auth-Team` and `X-Auth-Method` for a verified
    /// principal, and `X-Auth-User` (the bare name) for a person; only `X-Auth-Method: anonymous`
    /// for an anonymous one. The id is the principal's
    /// ``Principal/subject``: `user:alice` for a user, so it never reads as an agent of that name.
    public static func identityHeaders(for principal: Principal?) -> [HeaderField] {
        guard let principal else { return [HeaderField(name: "X-Auth-Method", value: "anonymous")] }
        var headers = [
            HeaderField(name: "X-Auth-Agent-ID", value: principal.id),
            HeaderField(name: "X-Auth-Role", value: principal.role.rawValue),
            HeaderField(name: "X-Auth-Team", value: principal.team.rawValue),
            HeaderField(name: "X-Auth-Method", value: principal.subject.method),
        ]
        if case .user = principal.subject {
            headers.append(HeaderField(name: "X-Auth-User", value: principal.subject.name))
        }
        return headers
    }
}
