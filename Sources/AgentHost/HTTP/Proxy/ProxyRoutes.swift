import AsyncAlgorithms
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SecurityCore
import SecurityStore
import Synchronization

/// `ANY /proxy/{upstream}/**`: an agent's call to an upstream, forwarded with the secret it was
/// granted injected on the way out and scrubbed from the way back (Docs/BROKERED.md).
///
/// The security middleware has already authenticated the agent (its token may also come as the
/// upstream's own API-key header or as the password of HTTP Basic), rate limited it under the
/// upstream's scope, and asked the policy (action `proxy.use`, resource `upstream:<name>`). Here:
/// the path and method must be ones the upstream allows; the agent must hold a grant of the
/// upstream's secret; the secret is opened for this one call; and the answer streams back,
/// scrubbed, until it ends, the agent goes away, or the agent's token is revoked or expires.
struct ProxyRoutes: Sendable {
    let components: AgentHost.Components

    /// The methods the proxy forwards (those an upstream may allow).
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete]

    /// The route's path template.
    static let path = "/proxy/{upstream}/**"

    /// Where an upstream's calls start: `/proxy/<name>/`.
    static func prefix(_ name: String) -> String { "/proxy/\(name)/" }

    /// How often a streaming answer checks that the agent's token still holds.
    static let revocationCheckInterval = Duration.seconds(1)

    /// Answers of known length up to this are not watched while they stream (each piece is still
    /// checked): 1 MiB.
    static let unwatchedLength = 1 << 20

    /// Where the proxy's routes find an agent's token besides `Authorization: Bearer` and
    /// `X-Agent-Token`: the password of HTTP Basic on every upstream (git sends it so), and the
    /// header each upstream's secret goes in, on that upstream's routes (an SDK given the agent's
    /// token as its API key sends it there).
    static func credentialLocations(_ upstreams: [Upstream]) -> CredentialLocations {
        guard !upstreams.isEmpty, let everyUpstream = RouteMatch("/proxy/**") else { return CredentialLocations() }
        return CredentialLocations(
            basicPassword: [everyUpstream],
            namedHeaders: upstreams.compactMap { upstream in
                guard case .header(let name, _, _) = upstream.injection, name != "authorization",
                    let routes = RouteMatch(prefix(upstream.name) + "**")
                else { return nil }
                return CredentialLocations.NamedHeader(name: name, routes: [routes])
            }
        )
    }

    func add(to router: Router<AgentRequestContext>) {
        for method in Self.methods {
            router.on(RouterPath(Self.path), method: method) { [components] request, context in
                try await ProxiedCall(components: components, request: request, context: context).run()
            }
        }
    }

    /// The injected header's value and a scrubber for the secret, made while the vault lends it
    /// and kept for the secret's version (``UpstreamProxy/opened``).
    struct OpenedSecret: Sendable {
        /// The header's value, wiped when the last holder lets it go.
        let header: SecureBytes
        let scrubber: StreamScrubber

        /// The header's value as the HTTP client takes it: a `String`, which lives until the
        /// request is sent (a Swift string cannot be wiped).
        var headerValue: String { header.unprotectedString() }
    }

    /// Opens the secret `agent` was granted for `upstream`, or takes what was made of the same
    /// sealed record before from `cache`. Refuses `403 no_grant` without a grant, `409` when the
    /// secret is not set or does not open, `503` when the store is down.
    static func openSecret(
        of upstream: Upstream, for agent: AgentID, credentials: CredentialService, cache: OpenedSecretCache<OpenedSecret>?,
        context: AgentRequestContext
    ) async throws -> OpenedSecret {
        do {
            let found = try await credentials.withGrantedSecret(agent: agent, env: upstream.grant, cache: cache, scope: upstream.name) {
                secret in
                let header = Self.headerValue(upstream.injection, secret: secret)
                // The whole Basic credential too: it decodes to the secret.
                var secrets = [secret]
                if case .basic = upstream.injection { secrets.append(SecureBytes(copying: header.dropFirst(6))) }
                return OpenedSecret(header: header, scrubber: StreamScrubber(secrets: secrets))
            }
            switch found {
            case .noGrant:
                throw HTTPRefusal(
                    status: 403, code: .noGrant,
                    detail: "Agent \(agent) holds no grant of \(upstream.grant), the secret upstream \(upstream.name) needs.",
                    extensions: ["upstream": .string(upstream.name), "grant": .string(upstream.grant)])
            case .notSet:
                throw HTTPRefusal(409, .secretMissing, "The secret granted as \(upstream.grant) is not set; set it again.")
            case .opened(_, let opened):
                return opened
            }
        } catch let error as VaultError {
            context.logger.error("vault refused", metadata: ["code": .string(error.code.description)])
            throw HTTPRefusal(409, .secretUnreadable, "The secret granted as \(upstream.grant) does not open; set it again.")
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }

    /// The injected header's value: the format around the secret, or HTTP Basic's encoding of
    /// `user:secret`. The working bytes are wiped.
    static func headerValue(_ injection: Upstream.Injection, secret: SecureBytes) -> SecureBytes {
        var bytes: [UInt8]
        switch injection {
        case .header(_, let prefix, let suffix):
            bytes = Array(prefix.utf8) + Array(secret) + Array(suffix.utf8)
        case .basic(let user):
            var credential = Array(user.utf8) + [UInt8(ascii: ":")] + Array(secret)
            bytes = Array("Basic ".utf8) + Base64URL.encodeStandard(credential)
            SecureBytes.wipe(&credential)
        }
        defer { SecureBytes.wipe(&bytes) }
        return SecureBytes(copying: bytes)
    }

    /// Whether a path below an upstream can be forwarded as it is: plain segments, no backslash,
    /// and no percent-encoded `/`, `\`, `.` or NUL that the upstream might decode into a path of
    /// its own.
    static func isForwardable(_ path: Substring) -> Bool {
        guard PathTemplate.isPlainPath(path), !path.utf8.contains(UInt8(ascii: "\\")) else { return false }
        // Most paths hold no escape at all; lower-casing and searching each cost more than the byte scan.
        guard path.utf8.contains(UInt8(ascii: "%")) else { return true }
        let lower = path.lowercased()
        return !["%2f", "%5c", "%2e", "%00"].contains { lower.contains($0) }
    }

    /// Whether `path` or `query` holds a credential of one of `kinds`, as it is or percent-decoded
    /// (up to three times: an upstream may decode more than once).
    static func holdsCredential(path: Substring, query: String?, kinds: [CredentialKind]) -> Bool {
        for part in [String(path), query ?? ""] where !part.isEmpty {
            var text = part
            for _ in 0..<4 {
                if kinds.anyOccurs(in: text) { return true }
                guard text.contains("%"), let decoded = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                    decoded != text
                else { break }
                text = decoded
            }
        }
        return false
    }

    /// The scheme, host and port `url` goes to.
    static func origin(of url: String) -> Upstream.Origin? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            var host = components.host?.lowercased()
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return Upstream.Origin(scheme: scheme, host: host, port: components.port ?? (scheme == "https" ? 443 : 80))
    }

    /// The refusal for a call that got no answer: `413` over the body cap, `504` on a timeout,
    /// `502` when the upstream cannot be reached or its TLS does not verify.
    static func refusal(for error: any Error, upstream: Upstream) -> HTTPRefusal {
        if error is CappedBody.TooLarge {
            return HTTPRefusal(
                status: 413, code: .bodyTooLarge,
                detail: "The request body is over this upstream's cap of \(upstream.maximumBodyBytes) bytes.",
                extensions: ["limit": .integer(Int64(upstream.maximumBodyBytes))])
        }
        if let error = error as? HTTPClientError,
            [HTTPClientError.readTimeout, .connectTimeout, .deadlineExceeded, .tlsHandshakeTimeout].contains(error)
        {
            return HTTPRefusal(504, .upstreamTimeout, "Upstream \(upstream.name) did not answer in time.")
        }
        return HTTPRefusal(502, .upstreamUnreachable, "Upstream \(upstream.name) could not be reached.")
    }
}

/// One proxied call, for its record: who, where, and the bytes each way.
final class ProxyCall: Sendable {
    /// How a call ended: the `outcome` of its audit record and log line.
    enum Outcome: Equatable, Sendable, CustomStringConvertible {
        /// The whole answer went back.
        case complete
        /// The agent or the upstream went away while the answer streamed.
        case interrupted
        /// The agent's token was revoked, or expired, while the answer streamed.
        case revoked
        /// The proxy refused the call itself, with this problem code.
        case refused(String)

        var description: String {
            switch self {
            case .complete: "complete"
            case .interrupted: "interrupted"
            case .revoked: "revoked"
            case .refused(let code): code
            }
        }
    }

    let upstream: String
    let agent: String
    let method: String
    let template: String
    let requestID: String
    let started: ContinuousClock.Instant
    /// Request body bytes forwarded.
    let sent = Atomic<Int>(0)
    /// Answer body bytes received from the upstream.
    let received = Atomic<Int>(0)

    init(upstream: String, agent: String, method: String, template: String, requestID: String, started: ContinuousClock.Instant) {
        self.upstream = upstream
        self.agent = agent
        self.method = method
        self.template = template
        self.requestID = requestID
        self.started = started
    }
}

/// Why a streamed answer was cut short by the proxy.
enum ProxyStreamEnded: Error {
    /// The agent's token was revoked, or expired, while the answer streamed.
    case revoked
}

/// What the proxy's stream loop sees: a piece of the answer, its end, or the revocation watch firing.
enum ProxyPiece: Sendable {
    case data(ByteBuffer)
    case end
    case revoked
}

/// An upstream's answer as ``ProxyPiece``s, ending with `.end`.
struct UpstreamPieces: AsyncSequence, Sendable {
    let body: HTTPClientResponse.Body

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        var ended = false

        mutating func next() async throws -> ProxyPiece? {
            guard !ended else { return nil }
            if let buffer = try await base.next() { return .data(buffer) }
            ended = true
            return .end
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator()) }
}

/// Yields `.revoked` once `stillValid` turns false, checking every
/// ``ProxyRoutes/revocationCheckInterval`` of `ticks`; never ends otherwise (the stream loop stops
/// iterating, which cancels it).
struct RevocationWatch: AsyncSequence, Sendable {
    let stillValid: @Sendable () -> Bool
    let ticks: any TickSource
    var interval = ProxyRoutes.revocationCheckInterval

    struct AsyncIterator: AsyncIteratorProtocol {
        let stillValid: @Sendable () -> Bool
        let ticks: any TickSource
        let interval: Duration
        var fired = false

        mutating func next() async throws -> ProxyPiece? {
            guard !fired else { return nil }
            while stillValid() { try await ticks.sleep(for: interval) }
            fired = true
            return .revoked
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stillValid: stillValid, ticks: ticks, interval: interval) }
}

/// A request body that stops with ``TooLarge`` once more than `limit` bytes have come, counting
/// them in `call`.
struct CappedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let limit: Int
    let call: ProxyCall

    struct TooLarge: Error {}

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        let call: ProxyCall
        var total = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            total += buffer.readableBytes
            guard total <= limit else { throw TooLarge() }
            call.sent.add(buffer.readableBytes, ordering: .relaxed)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), limit: limit, call: call) }
}
