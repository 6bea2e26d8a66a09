import AsyncAlgorithms
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SecurityCore
import Synchronization

/// One agent's call through `/proxy/{upstream}/**`, as the steps a reviewer reads in order:
/// ``run()`` checks it, opens the secret, forwards it, streams the answer back scrubbed, and
/// records it with its ``ProxyCall/Outcome``, whichever step ends it.
struct ProxiedCall {
    let components: AgentHost.Components
    let request: Request
    let context: AgentRequestContext
    let started = ContinuousClock.now

    /// What the checks established: where the call goes, for whom, and under which path rule.
    struct Checked {
        let proxy: UpstreamProxy
        let upstream: Upstream
        let claims: AgentTokenClaims
        /// The path below the upstream's prefix, as the agent sent it.
        let path: Substring
        let template: PathTemplate
        let kinds: [CredentialKind]
    }

    func run() async throws -> Response {
        // Until the path rule is known, a refusal is recorded under "-".
        var call = ProxyCall(
            upstream: String((context.parameters.get("upstream") ?? "").prefix(64)), agent: context.principal?.id ?? "anonymous",
            method: request.method.rawValue, template: "-", requestID: context.id, started: started)
        do {
            let checked = try check()
            call = ProxyCall(
                upstream: checked.upstream.name, agent: checked.claims.agent.rawValue, method: request.method.rawValue,
                template: checked.template.description, requestID: context.id, started: started)
            let secret = try await openSecret(for: checked)
            let admission = try admit(checked)
            let answer = try await forward(checked, secret: secret, call: call)
            return try streamBack(answer, checked: checked, secret: secret, call: call, admission: admission)
        } catch let refusal as HTTPRefusal {
            finish(call, status: refusal.refusal.status, outcome: .refused(refusal.refusal.problem.code))
            throw refusal
        }
    }

    // MARK: 1. Check

    /// The upstream exists; the caller is an agent with its own token; the path is plain, holds no
    /// credential, and is one the upstream allows for the method.
    func check() throws -> Checked {
        let name = context.parameters.get("upstream") ?? ""
        guard let proxy = components.proxy, let upstream = proxy.upstream(named: name) else {
            throw HTTPRefusal(404, .unknownUpstream, "No upstream is configured under the name \(name.prefix(64)).")
        }
        let claims: AgentTokenClaims
        switch context.principal?.subject {
        case .agent(let agent)?: claims = agent
        case .lease(let lease)?:
            // A launched agent calls the upstreams its run names, no others.
            guard case .live(let run)? = components.runs?.standing(of: lease.tokenID), run.upstreams.contains(name) else {
                throw HTTPRefusal(
                    status: 403, code: .notAllowed, detail: "This run may not call upstream \(name); its launcher did not name it.",
                    extensions: ["upstream": .string(name)])
            }
            claims = lease
        default:
            throw HTTPRefusal(
                403, .tokenRequired, "The proxy serves agents that present their own AgentHost token, never other identities.")
        }
        let rawPath = request.uri.path
        let path = rawPath.dropFirst(ProxyRoutes.prefix(name).utf8.count - 1)
        guard rawPath.hasPrefix(ProxyRoutes.prefix(name)), ProxyRoutes.isForwardable(path) else {
            throw HTTPRefusal(
                400, .invalidPath, "The path must be plain segments: no empty, . or .. segment, backslash or encoded / \\ . or NUL.")
        }
        let kinds = components.credentialKinds
        guard !ProxyRoutes.holdsCredential(path: path, query: request.uri.query, kinds: kinds) else {
            throw HTTPRefusal(
                400, .credentialInURL,
                "The path or query holds an AgentHost credential, which would reach the upstream and its logs. Send it as Authorization: Bearer."
            )
        }
        guard upstream.methods.contains(request.method.rawValue), let template = upstream.template(matching: path) else {
            throw HTTPRefusal(
                status: 403, code: .notAllowed,
                detail: "\(request.method.rawValue) on this path is not allowed through upstream \(name).",
                extensions: [
                    "upstream": .string(name), "methods": .array(upstream.methods.sorted().map { .string($0) }),
                    "paths": .array(upstream.paths.map { .string($0.description) }),
                ]
            )
        }
        return Checked(proxy: proxy, upstream: upstream, claims: claims, path: path, template: template, kinds: kinds)
    }

    // MARK: 2. Open the secret

    /// The secret the agent was granted for the upstream: opened, or as it was opened for an
    /// earlier call while its sealed record is unchanged.
    func openSecret(for checked: Checked) async throws -> ProxyRoutes.OpenedSecret {
        guard let credentials = components.credentials else {
            throw HTTPRefusal(503, .vaultUnavailable, "This server was started without a credential store.")
        }
        return try await ProxyRoutes.openSecret(
            of: checked.upstream, for: checked.claims.agent, credentials: credentials, cache: checked.proxy.opened, context: context)
    }

    // MARK: 3. Forward

    /// A place among the upstream's connections and the calls waiting for one; `503
    /// upstream_busy` with `Retry-After` when there is none (Docs/BROKERED.md, `connections`).
    func admit(_ checked: Checked) throws -> UpstreamProxy.Admission {
        guard let admission = checked.proxy.admit(checked.upstream) else {
            throw HTTPRefusal(
                status: 503, code: .upstreamBusy,
                detail:
                    "Upstream \(checked.upstream.name) has \(checked.upstream.connections) calls under way and \(checked.upstream.queue) waiting; try again shortly.",
                headers: [HeaderField(name: "Retry-After", value: "1")])
        }
        return admission
    }

    /// Sends the call to the upstream's origin, without the agent's credentials and with the
    /// secret injected, streaming the body up to the upstream's cap; the upstream's answer.
    func forward(_ checked: Checked, secret: ProxyRoutes.OpenedSecret, call: ProxyCall) async throws -> HTTPClientResponse {
        let upstream = checked.upstream
        guard let client = checked.proxy.client(for: upstream) else {
            throw HTTPRefusal(503, .shuttingDown, "The server is shutting down.")
        }
        let destination = upstream.destination(path: checked.path, query: request.uri.query.map { $0[...] })
        guard ProxyRoutes.origin(of: destination) == upstream.origin else {
            throw HTTPRefusal(400, .invalidPath, "The path would leave the upstream's host.")
        }
        var outbound = HTTPClientRequest(url: destination)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        outbound.headers = ProxyHeaders.outbound(
            request.headers, upstream: upstream, kinds: checked.kinds,
            credentialHeaders: Set(components.pipeline.configuration.credentialLocations.namedHeaders.map(\.name)))
        outbound.headers.replaceOrAdd(name: upstream.injection.headerName, value: secret.headerValue)
        let declaredLength = request.headers[.contentLength].flatMap { Int64($0) }
        if SecurityMiddleware<AgentRequestContext>.mayHaveBody(request, declaredLength: declaredLength.map { Int($0) }) {
            outbound.body = .stream(
                CappedBody(base: request.body, limit: upstream.maximumBodyBytes, call: call),
                length: declaredLength.map { .known($0) } ?? .unknown)
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, deadline: .distantFuture, logger: nil)
        } catch {
            throw ProxyRoutes.refusal(for: error, upstream: upstream)
        }
        let encoding = response.headers[canonicalForm: "content-encoding"].filter { $0.lowercased() != "identity" }
        guard encoding.isEmpty else {
            throw HTTPRefusal(
                502, .upstreamEncoding,
                "Upstream \(upstream.name) answered with a compressed body (\(encoding.joined(separator: ", ").prefix(64))), which cannot be scrubbed."
            )
        }
        return response
    }

    // MARK: 4. Stream back, scrubbed

    /// The answer as it goes back: status and headers as they came, the body streamed with the
    /// secret masked, and cut when the agent's token is revoked or expires. The call is recorded
    /// when the body ends, however it ends.
    func streamBack(
        _ response: HTTPClientResponse, checked: Checked, secret: ProxyRoutes.OpenedSecret, call: ProxyCall,
        admission: UpstreamProxy.Admission
    ) throws -> Response {
        let status = Int(response.status.code)
        let headers = ProxyHeaders.inbound(response.headers, scrubber: secret.scrubber)
        let components = self.components, claims = checked.claims
        let leeway = components.configuration.tokenPolicy.leeway
        let stillValid: @Sendable () -> Bool = {
            !components.revocations.isRevoked(claims) && components.clock.now() <= claims.expiresAt + leeway
        }
        // An answer of unknown length (server-sent events, say) or a large one is watched while it
        // streams, so a revoked token's stream ends even while the upstream is silent. A short
        // answer of known length is not: it ends within the upstream's timeout anyway, and the
        // watch (two tasks per call) cost a third of the proxy's throughput in scripts/loadtest.
        let length = response.headers.first(name: "content-length").flatMap { Int($0) }
        let watched = length.map { $0 > ProxyRoutes.unwatchedLength } ?? true
        let body = ResponseBody { [self] writer in
            // The call keeps its place until its answer has been passed on.
            defer { withExtendedLifetime(admission) {} }
            var scrubber = secret.scrubber
            var outcome = ProxyCall.Outcome.complete
            defer { finish(call, status: status, outcome: outcome) }
            /// Sends one piece on, scrubbed; whether the answer has ended.
            func pass(_ piece: ProxyPiece) async throws -> Bool {
                switch piece {
                case .data(let buffer):
                    // Every piece, watched or not, is checked against the token first.
                    guard stillValid() else { throw ProxyStreamEnded.revoked }
                    call.received.add(buffer.readableBytes, ordering: .relaxed)
                    // Most pieces hold nothing to mask and go on as they came: the scan reads a
                    // copy, and the piece itself is sent.
                    if !scrubber.isEmpty, let scrubbed = scrubber.scrubIfNeeded(Array(buffer.readableBytesView)) {
                        if !scrubbed.isEmpty { try await writer.write(ByteBuffer(bytes: scrubbed)) }
                    } else {
                        try await writer.write(buffer)
                    }
                    return false
                case .end:
                    return true
                case .revoked:
                    throw ProxyStreamEnded.revoked
                }
            }
            do {
                if watched {
                    let watch = RevocationWatch(stillValid: stillValid, ticks: components.ticks)
                    for try await piece in merge(UpstreamPieces(body: response.body), watch) {
                        if try await pass(piece) { break }
                    }
                } else {
                    for try await piece in UpstreamPieces(body: response.body) {
                        if try await pass(piece) { break }
                    }
                }
                let tail = scrubber.finish()
                if !tail.isEmpty { try await writer.write(ByteBuffer(bytes: tail)) }
            } catch ProxyStreamEnded.revoked {
                outcome = .revoked
                throw ProxyStreamEnded.revoked
            } catch {
                outcome = .interrupted
                throw error
            }
            // The whole answer was passed on: a client that goes away before the response's end
            // is written had it all, and the call is complete.
            try await writer.finish(nil)
        }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: body)
    }

    // MARK: 5. Record

    /// Records a finished call: the audit chain (aggregated), metrics, and a debug log line. The
    /// audit first: once a call is counted, its audit record is queued.
    func finish(_ call: ProxyCall, status: Int, outcome: ProxyCall.Outcome) {
        let duration = ContinuousClock.now - call.started
        let sent = call.sent.load(ordering: .relaxed), received = call.received.load(ordering: .relaxed)
        components.audit?.recordProxyCall(
            agent: call.agent, upstream: call.upstream, method: call.method, template: call.template, status: status, sent: sent,
            received: received, duration: duration, outcome: outcome.description, requestID: call.requestID)
        components.metrics.recordProxyCall(upstream: call.upstream, status: status, sent: sent, received: received, duration: duration)
        context.logger.debug(
            "proxied call",
            metadata: [
                "upstream": .string(call.upstream), "method": .string(call.method), "path": .string(call.template),
                "status": .stringConvertible(status), "outcome": .string(outcome.description),
            ])
    }
}
