import Foundation
import HTTPTypes
public import Hummingbird
public import HummingbirdWebSocket
import Logging
public import NIOCore
import NIOWebSocket
public import SecurityCore
import Synchronization

/// The request context of WebSocket upgrades: the same as ``AgentRequestContext``, plus the
/// reference hummingbird-websocket hands the connection through.
public struct SystemStreamContext: SecurityRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var principal: Principal?
    public let webSocket: WebSocketHandlerReference<Self>

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.principal = nil
        self.webSocket = .init()
    }
}

/// `GET /ws/system`: the operator stream. Read-only JSON lines of security events (see
/// ``SystemEvents``) for a principal the policy allows `system.watch`.
///
/// - Authenticated in every mode, with a proven credential: a bearer token (agent token, user
///   session or API key) in `Authorization`, or, for browsers, which cannot set that header on a
///   WebSocket, in `Sec-WebSocket-Protocol` as `bearer.<token>` beside `agenthost.v1` (the only
///   protocol the server answers with; the token is never echoed). Never from the query string.
///   Header-trust identities and anonymous access do not open it.
/// - A request with a browser's `Origin` must come from an origin in the CORS allow-list (or
///   this server's own); see ``originAllowed(_:host:)``.
/// - The credential is checked again every second: revoked, expired, or no longer allowed by
///   the policy, and the connection is closed (code 1008, the reason names why).
/// - Anything the client sends closes it (1003 `read_only`).
struct SystemStream: Sendable {
    static let path = "/ws/system"
    /// The subprotocol a browser client offers, and the server answers with.
    static let subprotocol = "agenthost.v1"
    /// Before a token in `Sec-WebSocket-Protocol`.
    static let bearerPrefix = "bearer."
    /// How often an open stream's credential is checked again.
    static let recheckInterval: Duration = .seconds(1)

    let components: AgentHost.Components

    /// The router that answers WebSocket upgrades: the security middleware, then `/ws/system`.
    /// (Any other upgrade request finds no route and is refused.)
    static func router(components: AgentHost.Components) -> Router<SystemStreamContext> {
        let router = Router(context: SystemStreamContext.self)
        router.add(middleware: CredentialFromSubprotocol())
        router.add(middleware: SecurityMiddleware(components: components))
        let stream = SystemStream(components: components)
        router.ws(
            RouterPath(path),
            shouldUpgrade: { request, context in stream.shouldUpgrade(request, context: context) },
            onUpgrade: { inbound, outbound, context in try await stream.run(inbound: inbound, outbound: outbound, context: context) }
        )
        return router
    }

    /// The plain-HTTP answer at the same path (no upgrade asked): `426`, once the middleware has
    /// let the request through, so a client can check its credential with an ordinary GET.
    static func upgradeRequired() -> Response {
        let problem = Problem(status: 426, code: .websocketRequired, detail: "GET /ws/system is a WebSocket: ask for an upgrade.")
            .typed(namespace: AgentHost.problemNamespace)
        return Response(
            status: .init(code: 426), headers: [.contentType: Problem.mediaType, .upgrade: "websocket", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: problem.json))
        )
    }

    // MARK: Credentials in Sec-WebSocket-Protocol

    /// The protocols offered in `Sec-WebSocket-Protocol`, bearer entries included.
    static func offered(_ headers: HTTPFields) -> [Substring] {
        headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces)[...] }
            .filter { !$0.isEmpty }
    }

    /// `headers` as the pipeline should see them: each `bearer.<token>` protocol becomes an
    /// `Authorization: Bearer <token>` (two credentials are refused as ambiguous by the pipeline).
    static func credentialHeaders(_ headers: HTTPFields) -> HTTPFields {
        var headers = headers
        for entry in offered(headers) where entry.hasPrefix(bearerPrefix) {
            headers.append(HTTPField(name: .authorization, value: "Bearer " + entry.dropFirst(bearerPrefix.count)))
        }
        return headers
    }

    struct CredentialFromSubprotocol: RouterMiddleware {
        typealias Context = SystemStreamContext

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var head = request.head
            head.headerFields = SystemStream.credentialHeaders(request.headers)
            return try await next(Request(head: head, body: request.body), context)
        }
    }

    // MARK: Upgrade

    /// Past the security middleware (authenticated, allowed by the policy, within the rate
    /// limits): a proven credential, an allowed origin, the protocol, and room for one more.
    func shouldUpgrade(_ request: Request, context: SystemStreamContext) -> RouterShouldUpgrade {
        guard let principal = context.principal, principal.subject.isProven else {
            return refuse("credential_required", request, context)
        }
        let origins = request.headers[values: .origin]
        guard origins.count <= 1, origins.allSatisfy({ originAllowed($0, host: request.head.authority) }) else {
            return refuse("origin_not_allowed", request, context)
        }
        var headers = HTTPFields()
        let protocols = Self.offered(request.headers).filter { !$0.hasPrefix(Self.bearerPrefix) }
        if !protocols.isEmpty || request.headers[.secWebSocketProtocol] != nil {
            // A browser fails a connection whose answer names none of the protocols it offered.
            guard protocols.contains(Substring(Self.subprotocol)) else { return refuse("subprotocol_required", request, context) }
            headers[.secWebSocketProtocol] = Self.subprotocol
        }
        guard components.events.hasRoom else { return refuse("too_many_streams", request, context) }
        return .upgrade(headers)
    }

    /// Whether a WebSocket handshake from `origin` may proceed: an origin in the CORS allow-list,
    /// this server's own origin (`http(s)://` + the `Host` header), or the `ws://`/`wss://` origin
    /// non-browser WebSocket libraries send (a browser always sends its page's `http(s)` origin, or
    /// `null`). Any other page's origin is refused: the check that stops cross-site WebSocket
    /// hijacking.
    func originAllowed(_ origin: String, host: String?) -> Bool {
        if components.pipeline.configuration.cors?.allows(origin: origin) == true { return true }
        let lowered = origin.lowercased()
        if lowered.hasPrefix("ws://") || lowered.hasPrefix("wss://") { return true }
        if let host, lowered == "http://" + host.lowercased() || lowered == "https://" + host.lowercased() { return true }
        return false
    }

    /// Records a refused upgrade (the client sees hummingbird-websocket's `400`; the reason is in
    /// the audit log and the server's log).
    private func refuse(_ code: String, _ request: Request, _ context: SystemStreamContext) -> RouterShouldUpgrade {
        let client = client(context, request.headers)
        components.audit?.recordRefusal(
            action: "stream.refused", code: code, client: client, actor: context.principal?.id ?? "anonymous", target: Self.path,
            requestID: context.id
        )
        components.metrics.increment("agenthost_requests_total", [("outcome", "refused"), ("status", "400")])
        context.logger.notice("operator stream refused", metadata: ["code": .string(code), "peer": .string(client)])
        return .dontUpgrade
    }

    /// The client's address as the pipeline resolves it (forwarding headers from trusted proxies).
    private func client(_ context: SystemStreamContext, _ headers: HTTPFields) -> String {
        components.pipeline.configuration.clientAddresses.clientAddress(peer: context.remoteAddress?.ipAddress, fields: headers)?
            .description ?? "-"
    }

    // MARK: The open stream

    /// Why a stream ended.
    enum Ending: Equatable {
        case credential(String)
        case readOnly
        case clientClosed
        case serverStopped
    }

    final class EndingBox: Sendable {
        let value = Mutex<Ending?>(nil)

        /// Keeps the first reason given.
        func set(_ ending: Ending) {
            value.withLock { if $0 == nil { $0 = ending } }
        }
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<SystemStreamContext>)
        async throws
    {
        let requestContext = context.requestContext
        guard let principal = requestContext.principal else { return }
        let events = components.events
        guard let (id, lines) = events.subscribe() else {
            try await outbound.close(.init(codeNumber: 1013), reason: "too_many_streams")
            return
        }
        let client = client(requestContext, context.request.headers)
        components.audit(requestContext.id, "stream.opened", actor: principal.id, target: Self.path, client: client)
        let ending = EndingBox()
        let facts = RequestFacts(
            method: "GET", path: Self.path,
            fields: Self.credentialHeaders(context.request.headers),
            peerAddress: requestContext.remoteAddress?.ipAddress, bodyLength: nil
        )
        var hello = ["type": "hello", "subject": principal.id, "role": principal.role.rawValue]
        if let expiry = Self.expiry(of: principal) { hello["expires_at"] = SystemEvents.timestamp(milliseconds: expiry * 1000) }
        hello["time"] = SystemEvents.timestamp(milliseconds: components.clock.now() * 1000)

        // Structured, so nothing reads `inbound` once this handler returns (hummingbird-websocket
        // then reads the close handshake from it). Whichever ends first, reader or watcher, ends
        // the subscription, which ends the writer, which cancels the rest.
        await withTaskGroup(of: Void.self) { [components] group in
            // The client may only close: anything it sends ends the stream.
            group.addTask {
                do {
                    for try await _ in inbound {
                        ending.set(.readOnly)
                        break
                    }
                } catch {}
                ending.set(.clientClosed)
                events.unsubscribe(id)
            }
            // The credential, every second of the server's clock.
            group.addTask {
                while !Task.isCancelled {
                    try? await components.ticks.sleep(for: Self.recheckInterval)
                    if Task.isCancelled { return }
                    if let reason = Self.recheck(facts, principal: principal, components: components) {
                        ending.set(.credential(reason))
                        events.unsubscribe(id)
                        return
                    }
                }
            }
            do {
                try await outbound.write(.text(SystemEvents.line(hello)))
                for await line in lines {
                    try await outbound.write(.text(line))
                }
            } catch {
                ending.set(.clientClosed)
            }
            ending.set(.serverStopped)
            events.unsubscribe(id)
            group.cancelAll()
        }
        let reason = ending.value.withLock { $0 } ?? .serverStopped
        switch reason {
        case .credential(let code):
            try? await outbound.close(.policyViolation, reason: code)
        case .readOnly:
            try? await outbound.close(.unacceptableData, reason: "read_only")
        case .serverStopped:
            try? await outbound.close(.goingAway, reason: "server_stopping")
        case .clientClosed:
            break
        }
        components.audit(
            requestContext.id, "stream.closed", actor: principal.id, target: Self.path, client: client,
            details: ["reason": Self.describe(reason)]
        )
    }

    static func describe(_ ending: Ending) -> String {
        switch ending {
        case .credential(let code): code
        case .readOnly: "read_only"
        case .clientClosed: "client_closed"
        case .serverStopped: "server_stopping"
        }
    }

    /// When a token-based principal's credential expires (seconds), or `nil` for API keys and devices.
    static func expiry(of principal: Principal) -> Int64? {
        principal.subject.tokenClaims?.expiresAt
    }

    /// Why the stream's credential no longer holds, or `nil` while it does: expired (without the
    /// verifier's leeway), refused on authentication (revoked, its key retired, its user, key or
    /// device deleted), or no longer allowed by the policy (a demoted user).
    static func recheck(_ facts: RequestFacts, principal: Principal, components: AgentHost.Components) -> String? {
        if let expiry = expiry(of: principal), components.clock.now() >= expiry { return "token_expired" }
        let pipeline = components.pipeline
        switch pipeline.authenticate(facts) {
        case .failure(let refusal):
            return refusal.problem.code
        case .success(let current):
            guard let policy = pipeline.configuration.policy else { return nil }
            let decision = policy.decide(
                PolicyRequest(
                    principal: current.policyPrincipal, method: "GET", path: path, isLoopback: pipeline.isLocal(facts)
                ))
            return decision.isPermitted ? nil : "forbidden"
        }
    }
}
