import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import SecurityCore

/// Hummingbird middleware that adapts `SecurityPipeline`: it turns a request into
/// `RequestFacts`, asks the pipeline, and either runs the route with the principal in the
/// context or answers with the refusal's problem+json body.
///
/// Refusals are logged (at debug; summarised each second by ``AuditRecorder``) with their code,
/// method, path and peer, never with a header value.
public struct SecurityMiddleware<Context: SecurityRequestContext>: RouterMiddleware {
    /// The pipeline in force, read for each request (a reload may replace it).
    let currentPipeline: @Sendable () -> SecurityPipeline
    let audit: AuditRecorder?
    let metrics: AgentHostMetrics?
    let events: SystemEvents?
    /// Paths (by prefix) whose routes stream their body and cap it themselves, so it is not read
    /// here first: the proxy's (`/proxy/`), whose uploads may be hundreds of MiB.
    let streamedPathPrefixes: [String]
    /// The sign-in portal, where a browser refused at forward auth is sent; `nil` answers `401`.
    let portal: PortalConfiguration?
    /// The signer of forward auth's `X-Auth-Assertion` in force; `nil` signs none.
    let currentAssertions: @Sendable () -> IdentityAssertions?

    /// `audit` receives every 401, 403 and 429 (aggregated per client and code); `metrics` counts
    /// every outcome; `events` streams the refusals to operators watching `/ws/system`.
    public init(pipeline: SecurityPipeline, audit: AuditRecorder? = nil, metrics: AgentHostMetrics? = nil, events: SystemEvents? = nil) {
        self.init(
            currentPipeline: { pipeline }, audit: audit, metrics: metrics, events: events, streamedPathPrefixes: [], portal: nil,
            currentAssertions: { nil })
    }

    /// The middleware of AgentHost's own routers, which asks `components` for the pipeline in force.
    init(components: AgentHost.Components) {
        self.init(
            currentPipeline: { components.pipeline }, audit: components.audit, metrics: components.metrics, events: components.events,
            streamedPathPrefixes: ["/proxy/"], portal: components.browserSessions?.portal, currentAssertions: { components.assertions }
        )
    }

    private init(
        currentPipeline: @escaping @Sendable () -> SecurityPipeline, audit: AuditRecorder?, metrics: AgentHostMetrics?,
        events: SystemEvents?, streamedPathPrefixes: [String], portal: PortalConfiguration?,
        currentAssertions: @escaping @Sendable () -> IdentityAssertions?
    ) {
        self.portal = portal
        self.currentAssertions = currentAssertions
        self.currentPipeline = currentPipeline
        self.audit = audit
        self.metrics = metrics
        self.events = events
        self.streamedPathPrefixes = streamedPathPrefixes
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let pipeline = currentPipeline()
        let facts = RequestFacts(
            method: request.method.rawValue,
            path: request.uri.path,
            fields: request.headers,
            peerAddress: context.remoteAddress?.ipAddress,
            bodyLength: request.headers[.contentLength].flatMap { Int($0) }
        )
        if facts.path == SecurityPipeline.forwardAuthPath, request.method == .get || request.method == .head {
            return await forwardAuth(facts, pipeline: pipeline, context: context)
        }
        switch pipeline.evaluate(facts) {
        case .allow(let principal, let headers):
            var request = request
            if Self.mayHaveBody(request, declaredLength: facts.bodyLength), !streamedPathPrefixes.contains(where: facts.path.hasPrefix) {
                let limit = pipeline.bodyLimit(method: facts.method, path: facts.path)
                do {
                    // Read at most the cap: an endless or mislabelled body is cut off here.
                    _ = try await request.collectBody(upTo: limit)
                } catch is NIOTooManyBytesError {
                    let refusal = SecurityPipeline.bodyTooLarge(limit: limit)
                    log(refusal, facts, context)
                    return SecurityResponses.response(for: refusal)
                }
            }
            metrics?.countAllowed()
            var context = context
            context.principal = principal
            var response = try await next(request, context)
            SecurityResponses.append(headers, to: &response.headers)
            return response
        case .preflight(let headers):
            metrics?.increment("agenthost_requests_total", [("outcome", "preflight")])
            var response = Response(status: .noContent)
            SecurityResponses.append(headers, to: &response.headers)
            return response
        case .deny(let refusal):
            log(refusal, facts, context)
            return SecurityResponses.response(for: refusal)
        }
    }

    /// Whether the request can carry a body that must be read up to its cap. Under HTTP/1.1 framing
    /// (RFC 9112 §6.3) a request with neither `Content-Length` nor `Transfer-Encoding` has none, and
    /// neither has one declaring length 0; collecting such an empty body still cost about 2 µs of
    /// stream machinery per request. Only `GET` and `HEAD` are left unread on that ground: other
    /// methods are read whatever their headers say, so a body framed some other way (HTTP/2) is
    /// still capped.
    static func mayHaveBody(_ request: Request, declaredLength: Int?) -> Bool {
        if declaredLength == 0 { return false }
        guard request.method == .get || request.method == .head else { return true }
        return request.headers[.contentLength] != nil || request.headers[.transferEncoding] != nil
    }

    /// `path` without its query, cut to 256 characters, for audit records and logs. Found on the
    /// UTF-8 bytes: walking a path as `Character`s cost more than verifying the token.
    static func loggedPath(_ path: String) -> String {
        let end = path.utf8.firstIndex(of: UInt8(ascii: "?")) ?? path.endIndex
        let bare = path[..<end]
        return bare.utf8.count <= 256 ? String(bare) : String(bare.prefix(256))
    }

    func log(_ refusal: Refusal, _ facts: RequestFacts, _ context: Context) {
        if let metrics {
            var scope: String?
            if refusal.status == 429, case .string(let name)? = refusal.problem.extensions["scope"] { scope = name }
            metrics.countRefused(status: refusal.status, code: refusal.problem.code, scope: scope)
        }
        let action: String? =
            switch refusal.status {
            case 401: "auth.failed"
            case 403: "policy.denied"
            case 429: "rate.limited"
            default: nil
            }
        if let action, audit != nil || events?.isWatched == true {
            let client =
                currentPipeline().configuration.clientAddresses.clientAddress(peer: facts.peerAddress, fields: facts.fields)?.description
                ?? "-"
            let actor = refusal.principal?.id ?? "anonymous"
            let target = facts.method + " " + Self.loggedPath(facts.path)
            // The deciding rules of a policy denial (none when nothing permits: default deny).
            var rule: String?
            if case .array(let rules)? = refusal.problem.extensions["rules"] {
                rule = rules.compactMap { if case .string(let id) = $0 { id } else { nil } }.joined(separator: ",")
                if rule?.isEmpty == true { rule = "default-deny" }
            }
            audit?.recordRefusal(
                action: action, code: refusal.problem.code, rule: rule, client: client, actor: actor, target: target, requestID: context.id
            )
            if let events, events.isWatched {
                var fields = ["code": refusal.problem.code, "client": client, "actor": actor, "request": target]
                if case .string(let scope)? = refusal.problem.extensions["scope"] { fields["scope"] = scope }
                events.publish(SystemEvents.type(ofRefusal: action), fields)
            }
        }
        // Per request only at debug: the audit recorder logs a summary per kind each second.
        context.logger.debug(
            "request refused",
            metadata: [
                "code": .string(refusal.problem.code), "status": .stringConvertible(refusal.status),
                "method": .string(facts.method), "path": .string(Self.loggedPath(facts.path)),
                "peer": .string(facts.peerAddress ?? "-"),
            ]
        )
    }
}
