import AgentHost
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import InMemoryLogging
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import SecurityCore
import SecurityStore
import StoreTestSupport
import Synchronization
import Testing

@testable import AgentHost

/// The proxy end to end, on 127.0.0.1: an AgentHost server forwarding to a ``FakeUpstream``.
@Suite(.timeLimit(.minutes(2)))
struct ProxyTests {
    /// The provider key in the vault: the only thing the upstream accepts, and what the agent must never see.
    static let secret = "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e"

    /// Everything a test needs: the server's parts, the store, what was logged, and the fake upstream.
    struct Setup: Sendable {
        let fixture: HostFixture
        let store: SQLSecurityStore
        let audit: AuditRecorder
        let logs: InMemoryLogHandler
        let upstream: FakeUpstream
        let port: Int

        func token(_ agent: String = "builder-7", role: String = "developer") throws -> String {
            try fixture.token(agent: agent, role: role).token
        }
    }

    /// The upstreams of the fake on `port`: `fake` takes the key as `x-api-key`, `git` as HTTP
    /// Basic with the user `x-access-token`, both under `/v1/`; `impatient` waits 1 s at most.
    static func upstreams(port: Int) throws -> [Upstream] {
        [
            try Upstream(
                name: "fake", url: "http://127.0.0.1:\(port)", grant: "FAKE_API_KEY", inject: "x-api-key: {secret}",
                methods: ["GET", "POST"], paths: ["/v1/**"], maximumBodyBytes: 64 << 10),
            // The same, with a timeout short enough to see: only the slow call uses it.
            try Upstream(
                name: "impatient", url: "http://127.0.0.1:\(port)", grant: "FAKE_API_KEY", inject: "x-api-key: {secret}",
                methods: ["GET"], paths: ["/v1/slow"], timeout: .seconds(1)),
            try Upstream(
                name: "git", url: "http://127.0.0.1:\(port)", grant: "GIT_TOKEN", inject: "basic: x-access-token",
                methods: ["GET"], paths: ["/v1/**"]),
        ]
    }

    /// Runs `body` with a server over a fresh SQLite store whose agent `builder-7` is granted the
    /// secret for both upstreams, and the fake upstream running.
    static func withProxy(
        upstreams makeUpstreams: @escaping @Sendable (Int) throws -> [Upstream] = { try upstreams(port: $0) },
        authenticators: [any Authenticator] = [], policy makePolicy: (@Sendable (Int) throws -> Policy)? = nil,
        _ body: @escaping @Sendable (Setup, any TestClientProtocol) async throws -> Void
    ) async throws {
        let upstream = FakeUpstream()
        try await upstream.run { port in
            let (store, _) = try await Backend.sqlite.open()
            do {
                let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
                let clock = ManualTimeSource(1_800_000_000)
                let credentials = try await CredentialService.open(keys: keys, store: store, clock: clock)
                let quiet = Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() }
                let trail = try await AuditTrail.open(store: store, credentials: credentials, logger: quiet, clock: clock)
                let audit = AuditRecorder(trail: trail)
                let upstreams = try makeUpstreams(port)
                let fixture = try HostFixture(
                    policy: try makePolicy?(port), credentials: credentials, revocationStore: store, audit: audit, clock: clock,
                    runs: store,
                    configure: {
                        $0.upstreams = upstreams
                        $0.authenticators = authenticators
                    })
                let path = try SecretPath("projects/p1/provider-key")
                try await credentials.set(path, secret: SecureBytes(copying: Array(secret.utf8)))
                for env in ["FAKE_API_KEY", "GIT_TOKEN"] {
                    try await credentials.grant(agent: AgentID("builder-7"), secret: path, env: env, proxyOnly: true)
                }
                let logs = InMemoryLogHandler()
                let app = AgentHost.application(configuration: fixture.configuration, components: fixture.components, logger: logs.logger)
                let setup = Setup(fixture: fixture, store: store, audit: audit, logs: logs, upstream: upstream, port: port)
                try await app.test(.live) { client in try await body(setup, client) }
            } catch {
                try await store.close()
                throw error
            }
            try await store.close()
        }
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    static func problemCode(_ response: TestResponse) -> String? {
        (try? json(response.body))?["code"] as? String
    }

    // MARK: Injection and scrubbing

    @Test func theUpstreamGetsTheKeyAndTheAgentGetsItBackMasked() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let response = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(response.status == .ok)
            // The upstream saw the key, and nothing of the agent's.
            let seen = try #require(setup.upstream.received.withLock { $0.last })
            #expect(seen[HTTPField.Name("x-api-key")!] == Self.secret)
            #expect(seen[.authorization] == nil && seen[HTTPField.Name("x-agent-token")!] == nil)
            #expect(seen[.acceptEncoding] == "identity")
            // Echoed back in JSON, in hex and in a header: masked to the same length every time.
            let body = String(buffer: response.body)
            #expect(!body.contains(Self.secret) && !body.contains(Self.hex(Self.secret)))
            #expect(body.contains(String(repeating: "*", count: Self.secret.utf8.count)))
            #expect(response.headers[HTTPField.Name("x-echo")!] == String(repeating: "*", count: Self.secret.utf8.count))
            #expect(Int(response.headers[.contentLength] ?? "") == response.body.readableBytes)
        }
    }

    @Test func anSDKsAPIKeyHeaderCarriesTheAgentToken() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            // The token also in a header no upstream reads it from: it must not go upstream either.
            let response = try await client.execute(
                uri: "/proxy/fake/v1/headers", method: .get,
                headers: [HTTPField.Name("x-api-key")!: token, HTTPField.Name("x-custom-auth")!: "token=" + token])
            #expect(response.status == .ok)
            let seen = String(buffer: response.body)
            #expect(!seen.contains(token), "the agent's token reached the upstream")
            #expect(seen.contains("x-api-key: " + String(repeating: "*", count: Self.secret.utf8.count)))
        }
    }

    @Test func gitsBasicPasswordCarriesTheAgentTokenAndBasicCarriesTheSecret() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let basic = "Basic " + Data("x-access-token:\(token)".utf8).base64EncodedString()
            let response = try await client.execute(uri: "/proxy/git/v1/echo", method: .get, headers: [.authorization: basic])
            #expect(response.status == .ok)
            let seen = try #require(setup.upstream.received.withLock { $0.last })
            let expected = "Basic " + Data("x-access-token:\(Self.secret)".utf8).base64EncodedString()
            #expect(seen[.authorization] == expected)
            // The whole Basic credential is masked too: it decodes to the secret.
            let body = String(buffer: response.body)
            #expect(!body.contains(String(expected.dropFirst(6))) && !body.contains(Self.secret))
        }
    }

    /// curl as the agent: headers and bodies, each echoing the key in its own way, hold none of it.
    @Test func curlReceivesNoneOfTheKey() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let port = try #require(client.port)
            for path in ["/v1/echo", "/v1/split", "/v1/headers"] {
                let result = try await GitProxyTests.run(
                    "curl", ["-sS", "-i", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/proxy/fake\(path)"],
                    environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"])
                #expect(result.status == 0, "\(path): \(result.output)")
                #expect(result.output.hasPrefix("HTTP/1.1 200"), "\(path): \(result.output)")
                #expect(!result.output.contains(Self.secret) && !result.output.contains(Self.hex(Self.secret)), "\(path)")
                #expect(result.output.contains(String(repeating: "*", count: Self.secret.utf8.count)), "\(path): \(result.output)")
            }
        }
    }

    @Test func aKeySplitAcrossPiecesIsStillMasked() async throws {
        try await Self.withProxy { setup, client in
            let response = try await client.execute(uri: "/proxy/fake/v1/split", method: .get, headers: Self.bearer(try setup.token()))
            #expect(String(buffer: response.body) == "before " + String(repeating: "*", count: Self.secret.utf8.count) + " after")
        }
    }

    @Test func eventsStreamThroughAndTheUpstreamsStatusIsKept() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let events = try await client.execute(uri: "/proxy/fake/v1/sse?count=5", method: .get, headers: Self.bearer(token))
            #expect(events.headers[.contentType] == "text/event-stream")
            #expect(String(buffer: events.body) == (0..<5).map { "data: event \($0)\n\n" }.joined())
            let teapot = try await client.execute(uri: "/proxy/fake/v1/status/418", method: .get, headers: Self.bearer(token))
            #expect(teapot.status.code == 418 && teapot.headers[.contentType] != "application/problem+json")
        }
    }

    // MARK: Refusals

    @Test func refusalsAreProblemsOfTheProxysOwn() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            func code(_ uri: String, _ method: HTTPRequest.Method = .get, headers: HTTPFields? = nil) async throws -> (Int, String?) {
                let response = try await client.execute(uri: uri, method: method, headers: headers ?? Self.bearer(token))
                // No refusal carries the secret, in its body or its headers.
                #expect(!String(buffer: response.body).contains(Self.secret))
                #expect(!response.headers.contains { $0.value.contains(Self.secret) })
                return (response.status.code, Self.problemCode(response))
            }
            #expect(try await code("/proxy/nowhere/v1/echo") == (404, "unknown_upstream"))
            #expect(try await code("/proxy/fake/v2/echo") == (403, "not_allowed"))
            #expect(try await code("/proxy/fake/v1/echo", .delete) == (403, "not_allowed"))
            #expect(try await code("/proxy/fake/v1/a%2F..%2Fsecret") == (400, "invalid_path"))
            #expect(try await code("/proxy/fake/v1/a%2e%2e/x") == (400, "invalid_path"))
            // Another agent holds no grant.
            #expect(try await code("/proxy/fake/v1/echo", headers: Self.bearer(try setup.token("other-agent"))) == (403, "no_grant"))
            // No token at all.
            #expect(try await code("/proxy/fake/v1/echo", headers: [:]).0 == 401)
            // A compressed answer cannot be scrubbed.
            #expect(try await code("/proxy/fake/v1/gzip") == (502, "upstream_encoding"))
            // Too slow for the impatient upstream's 1 s timeout.
            #expect(try await code("/proxy/impatient/v1/slow") == (504, "upstream_timeout"))
            // Every refusal above came from the proxy, not the upstream: it saw only the slow and gzip calls.
            let paths = setup.upstream.hits.withLock { $0 }
            #expect(paths.keys.sorted() == ["/v1/gzip", "/v1/slow"])
        }
    }

    @Test func anUnreachableUpstreamIs502() async throws {
        // A port that was free a moment ago: nothing listens there.
        try await Self.withProxy(upstreams: { _ in
            [
                try Upstream(
                    name: "gone", url: "http://127.0.0.1:9", grant: "FAKE_API_KEY", inject: "x-api-key: {secret}", methods: ["GET"],
                    paths: ["/**"])
            ]
        }) { setup, client in
            let response = try await client.execute(uri: "/proxy/gone/x", method: .get, headers: Self.bearer(try setup.token()))
            #expect(response.status.code == 502 && Self.problemCode(response) == "upstream_unreachable")
        }
    }

    @Test func aRedirectComesBackAsItCameAndIsNotFollowed() async throws {
        try await Self.withProxy { setup, client in
            let response = try await client.execute(uri: "/proxy/fake/v1/redirect", method: .get, headers: Self.bearer(try setup.token()))
            #expect(response.status == .found && response.headers[.location] == "/v1/echo")
            #expect(setup.upstream.hits.withLock { $0["/v1/echo"] } == nil)
        }
    }

    @Test func bodiesStreamUpToTheCapAndNoFurther() async throws {
        try await Self.withProxy { setup, client0 in
            let client = client0
            let token = try setup.token()
            let fits = try await client.execute(
                uri: "/proxy/fake/v1/upload", method: .post, headers: Self.bearer(token),
                body: ByteBuffer(repeating: 0x61, count: 60 << 10))
            #expect(String(buffer: fits.body) == "\(60 << 10)")
            let over = try await client.execute(
                uri: "/proxy/fake/v1/upload", method: .post, headers: Self.bearer(token),
                body: ByteBuffer(repeating: 0x61, count: 65 << 10))
            #expect(over.status.code == 413)
            // A chunked body declares no length: it streams until it passes the cap, then is refused.
            let streaming = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(try #require(client0.port))/proxy/fake/v1/upload")
                request.method = .POST
                request.headers.add(name: "authorization", value: "Bearer \(token)")
                let pieces = (0..<80).map { _ in ByteBuffer(repeating: 0x61, count: 1024) }
                request.body = .stream(Self.stream(pieces), length: .unknown)
                let response = try await streaming.execute(request, timeout: .seconds(10))
                #expect(response.status.code == 413)
                let small = (0..<8).map { _ in ByteBuffer(repeating: 0x61, count: 1024) }
                request.body = .stream(Self.stream(small), length: .unknown)
                let fits = try await streaming.execute(request, timeout: .seconds(10))
                #expect(String(buffer: try await fits.body.collect(upTo: 1024)) == "8192")
            } catch {
                try await streaming.shutdown()
                throw error
            }
            try await streaming.shutdown()
        }
    }

    // MARK: Revocation

    /// Revoking the token, or every token of the agent, ends the stream and refuses the next call.
    @Test(arguments: [false, true])
    func aRevokedTokensStreamEndsAndItsNextCallIsRefused(wholeAgent: Bool) async throws {
        try await Self.withProxy { setup, testClient in
            let minted = try setup.fixture.token(agent: "builder-7")
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                var request = HTTPClientRequest(
                    url: "http://127.0.0.1:\(try #require(testClient.port))/proxy/fake/v1/sse?count=100&interval=100")
                request.headers.add(name: "authorization", value: "Bearer \(minted.token)")
                let response = try await client.execute(request, timeout: .seconds(30))
                #expect(response.status == .ok)
                var received = ""
                var revoked = false
                do {
                    for try await piece in response.body {
                        received += String(buffer: piece)
                        if !revoked, received.contains("event 3") {
                            let revocations = setup.fixture.components.revocations
                            if wholeAgent {
                                revocations.revokeAll(of: minted.claims.agent, issuedBefore: minted.claims.issuedAt + 1)
                            } else {
                                revocations.revoke(tokenID: minted.claims.tokenID, expiresAt: minted.claims.expiresAt)
                            }
                            revoked = true
                        }
                    }
                } catch {
                    // The stream was cut: what a revoked agent should see.
                }
                #expect(revoked)
                #expect(!received.contains("event 99"))
                var again = HTTPClientRequest(url: request.url)
                again.headers = request.headers
                let refused = try await client.execute(again, timeout: .seconds(10))
                #expect(refused.status.code == 401)
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    // MARK: Records

    @Test func everyCallIsAuditedAndCountedAndNoSecretIsLoggedOrRecorded() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            _ = try await client.execute(uri: "/proxy/fake/v1/gzip", method: .get, headers: Self.bearer(token))
            // A call is recorded (counted, then audited) once its answer has been streamed.
            func counted(_ line: String) -> Bool {
                String(decoding: setup.fixture.components.metrics.exposition(), as: UTF8.self).contains(line)
            }
            try await eventually("the three calls are recorded") {
                counted(#"agenthost_proxy_requests_total{upstream="fake",status="2xx"} 2"#)
                    && counted(#"agenthost_proxy_requests_total{upstream="fake",status="5xx"} 1"#)
            }
            try await setup.audit.flush()
            let records = try await setup.store.auditRecords(after: 0, limit: 100, actor: nil, action: nil).map(\.event)
            let calls = records.filter { $0.action == "proxy.call" }
            let echoes = try #require(calls.first(where: { $0.details["status"] == "200" }))
            #expect(echoes.actor == "builder-7" && echoes.target == "fake" && echoes.details["count"] == "2")
            #expect(echoes.details["path"] == "/v1/**" && echoes.details["method"] == "GET")
            #expect(Int(echoes.details["bytes_received"] ?? "") ?? 0 > 0)
            #expect(
                calls.contains {
                    $0.details["status"] == "502" && $0.details["outcome"] == "upstream_encoding" && $0.details["path"] == "/v1/**"
                })
            // A refusal of the proxy's own is a call too, with the refusal as its outcome.
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(try setup.token("no-grant-agent")))
            var later: [AuditEvent] = []
            try await eventually("the refused call is audited") {
                try await setup.audit.flush()
                later = try await setup.store.auditRecords(after: 0, limit: 200, actor: "no-grant-agent", action: "proxy.call").map(\.event)
                return !later.isEmpty
            }
            #expect(later.contains { $0.details["status"] == "403" && $0.details["outcome"] == "no_grant" && $0.target == "fake" })
            let recorded = records.map { "\($0)" }.joined(separator: "\n")
            #expect(!recorded.contains(Self.secret))
            #expect(!setup.logs.text.contains(Self.secret) && !setup.logs.text.contains(token))
            let metrics = String(decoding: setup.fixture.components.metrics.exposition(), as: UTF8.self)
            #expect(metrics.contains(#"agenthost_proxy_requests_total{upstream="fake",status="2xx"} 2"#))
            #expect(metrics.contains("agenthost_proxy_request_duration_seconds_bucket"))
            #expect(metrics.contains(#"agenthost_proxy_bytes_total{upstream="fake",direction="received"}"#))
        }
    }

    /// The proxy keeps recent grant lookups, but a grant removed or a secret changed through this
    /// server counts from the next call.
    @Test func aGrantRemovedOrASecretChangedHereCountsAtOnce() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let admin = try setup.token("orchestrator", role: "admin")
            #expect(try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token)).status == .ok)
            let changed = "sk-test-changed-0123456789"
            let set = try await client.execute(
                uri: "/api/projects/p1/git-token", method: .put,
                headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"token":"\#(changed)"}"#))
            #expect(set.status == .noContent)
            // The change above forgot every lookup; this call keeps the grant as it stands.
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            try await setup.store.putGrant(
                SecretGrant(agent: "builder-7", env: "FAKE_API_KEY", owner: "projects/p1", name: "git-token", createdAt: 0, proxyOnly: true)
            )
            // Granted straight in the store, as another server would: not seen while the lookup is
            // kept, seen once GrantLookups.lifetime has passed on the server's clock.
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(setup.upstream.received.withLock { $0.last?[HTTPField.Name("x-api-key")!] } == Self.secret)
            setup.fixture.clock.advance(by: GrantLookups.lifetime - .milliseconds(1))
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(setup.upstream.received.withLock { $0.last?[HTTPField.Name("x-api-key")!] } == Self.secret)
            setup.fixture.clock.advance(by: .milliseconds(1))
            _ = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(setup.upstream.received.withLock { $0.last?[HTTPField.Name("x-api-key")!] } == changed)
            let removed = try await client.execute(
                uri: "/api/agents/builder-7/grants/FAKE_API_KEY", method: .delete, headers: Self.bearer(admin))
            #expect(removed.status == .noContent)
            let refused = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(refused.status.code == 403 && Self.problemCode(refused) == "no_grant")
        }
    }

    /// What a call made of the opened secret is kept for the next while the sealed record is the
    /// same, and dropped when the grant goes or the value has been idle for its lifetime.
    @Test func anOpenedSecretIsKeptPerVersionAndDroppedWithItsGrantOrWhenIdle() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let admin = try setup.token("orchestrator", role: "admin")
            let proxy = try #require(setup.fixture.components.proxy)
            let opened = proxy.opened
            for _ in 0..<3 {
                #expect(try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token)).status == .ok)
            }
            #expect(opened.count == 1)
            _ = try await client.execute(uri: "/proxy/git/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(opened.count == 2)
            // Idle for less than its lifetime: kept through a sweep; for its lifetime: swept.
            setup.fixture.clock.advance(by: OpenedSecretCache<ProxyRoutes.OpenedSecret>.defaultIdleLifetime - .seconds(1))
            opened.sweep()
            #expect(opened.count == 2)
            #expect(try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token)).status == .ok)
            setup.fixture.clock.advance(by: .seconds(1))
            opened.sweep()
            #expect(opened.count == 1)
            // The grant removed: the next call finds none, and what was kept for it goes.
            let removed = try await client.execute(
                uri: "/api/agents/builder-7/grants/FAKE_API_KEY", method: .delete, headers: Self.bearer(admin))
            #expect(removed.status == .noContent)
            let refused = try await client.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
            #expect(refused.status.code == 403)
            #expect(opened.count == 0)
        }
    }

    // MARK: The pool

    /// Past an upstream's connections and its queue, a call is refused at once with `503
    /// upstream_busy` and `Retry-After`; the place comes back when the call holding it ends.
    @Test func aFullUpstreamPoolRefusesWithRetryAfterAndFreesItsPlace() async throws {
        let narrow: @Sendable (Int) throws -> [Upstream] = { port in
            [
                try Upstream(
                    name: "fake", url: "http://127.0.0.1:\(port)", grant: "FAKE_API_KEY", inject: "x-api-key: {secret}",
                    methods: ["GET"], paths: ["/v1/**"], connections: 1, queue: 0)
            ]
        }
        try await Self.withProxy(upstreams: narrow) { setup, testClient in
            let token = try setup.token()
            let proxy = try #require(setup.fixture.components.proxy)
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                var request = HTTPClientRequest(
                    url: "http://127.0.0.1:\(try #require(testClient.port))/proxy/fake/v1/sse?count=300&interval=100")
                request.headers.add(name: "authorization", value: "Bearer \(token)")
                let response = try await client.execute(request, timeout: .seconds(30))
                #expect(response.status == .ok)
                var pieces = response.body.makeAsyncIterator()
                _ = try await pieces.next()
                #expect(proxy.callsInFlight(to: "fake") == 1)
                let busy = try await testClient.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token))
                #expect(busy.status.code == 503)
                #expect(Self.problemCode(busy) == "upstream_busy")
                #expect(busy.headers[.retryAfter] == "1")
            } catch {
                try await client.shutdown()
                throw error
            }
            // The stream's client goes away: the call ends, and its place is free again.
            try await client.shutdown()
            try await eventually("the ended call gives its place back") { proxy.callsInFlight(to: "fake") == 0 }
            #expect(try await testClient.execute(uri: "/proxy/fake/v1/echo", method: .get, headers: Self.bearer(token)).status == .ok)
        }
    }

    // MARK: Proxy-only grants

    @Test func proxyOnlySecretsAreNeverReleased() async throws {
        try await Self.withProxy { setup, client in
            let admin = try setup.token("orchestrator", role: "admin")
            // builder-7's grants are all proxy-only.
            let refused = try await client.execute(uri: "/v1/secrets/agents/builder-7/env", method: .get, headers: Self.bearer(admin))
            #expect(refused.status.code == 403 && Self.problemCode(refused) == "proxy_only")
            #expect(!String(buffer: refused.body).contains(Self.secret))
            // A grant of a variable an upstream injects is proxy-only unless it says otherwise.
            func grant(_ body: String) async throws -> Bool? {
                let response = try await client.execute(
                    uri: "/api/agents/builder-8/grants", method: .post,
                    headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .created)
                return (try json(response.body))["proxy_only"] as? Bool
            }
            #expect(try await grant(#"{"secret":"projects/p1/provider-key","env":"FAKE_API_KEY"}"#) == true)
            #expect(try await grant(#"{"secret":"projects/p1/provider-key","env":"OTHER_KEY"}"#) == false)
            #expect(try await grant(#"{"secret":"projects/p1/provider-key","env":"GIT_TOKEN","proxy_only":false}"#) == false)
            let released = try await client.execute(uri: "/v1/secrets/agents/builder-8/env", method: .get, headers: Self.bearer(admin))
            let body = try json(released.body)
            #expect(Set(((body["env"] as? [String: String]) ?? [:]).keys) == ["OTHER_KEY", "GIT_TOKEN"])
            #expect(body["proxy_only"] as? [String] == ["FAKE_API_KEY"])
        }
    }

    // MARK: Helpers

    /// `pieces` as an async sequence of unknown length.
    static func stream(_ pieces: [ByteBuffer]) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            for piece in pieces { continuation.yield(piece) }
            continuation.finish()
        }
    }

    static func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }
}

/// The official Anthropic and OpenAI Python SDKs (from PyPI; `scripts/bootstrap --test` installs
/// them into .build/test-tools/sdk), given the agent's token as their API key and the proxy as
/// their base URL, against the fake upstream, which accepts only the real key.
@Suite(.timeLimit(.minutes(2)))
struct SDKProxyTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The virtual environment's python with both SDKs, or `nil`.
    static var python: String? {
        let candidate =
            ProcessInfo.processInfo.environment["AGENTHOST_SDK_PYTHON"] ?? packageRoot.path + "/.build/test-tools/sdk/bin/python"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    @Test func anthropicAndOpenAISDKsWorkWithTheAgentTokenAsTheirKey() async throws {
        guard let python = Self.python else {
            Issue.record(
                "the SDKs are not installed: run scripts/bootstrap --test (it installs openai and anthropic into .build/test-tools/sdk)")
            return
        }
        let upstream = FakeUpstream(expectedKey: ProxyTests.secret)
        try await upstream.run { port in
            let (store, _) = try await Backend.sqlite.open()
            do {
                let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
                let clock = ManualTimeSource(1_800_000_000)
                let credentials = try await CredentialService.open(keys: keys, store: store, clock: clock)
                let upstreams = [
                    try Upstream(
                        name: "anthropic", url: "http://127.0.0.1:\(port)", grant: "ANTHROPIC_API_KEY", inject: "x-api-key: {secret}",
                        methods: ["POST"], paths: ["/v1/messages"]),
                    try Upstream(
                        name: "openai", url: "http://127.0.0.1:\(port)", grant: "OPENAI_API_KEY",
                        inject: "Authorization: Bearer {secret}", methods: ["POST"], paths: ["/v1/chat/completions"]),
                ]
                let fixture = try HostFixture(credentials: credentials, clock: clock, configure: { $0.upstreams = upstreams })
                let path = try SecretPath("projects/p1/llm-key")
                try await credentials.set(path, secret: SecureBytes(copying: Array(ProxyTests.secret.utf8)))
                for env in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"] {
                    try await credentials.grant(agent: AgentID("builder-7"), secret: path, env: env, proxyOnly: true)
                }
                let token = try fixture.token(agent: "builder-7").token
                let app = AgentHost.application(
                    configuration: fixture.configuration, components: fixture.components,
                    logger: InMemoryLogHandler().logger)
                try await app.test(.live) { client in
                    let proxyPort = try #require(client.port)
                    let result = try await GitProxyTests.run(
                        python,
                        [
                            Self.packageRoot.path + "/Tests/Fixtures/sdk_clients.py", "http://127.0.0.1:\(proxyPort)",
                            "http://127.0.0.1:\(port)", token, ProxyTests.secret, "3",
                        ],
                        environment: [
                            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory(),
                        ])
                    #expect(result.status == 0, "\(result.output)")
                    let report = try #require(
                        result.output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
                            as? [String: Any], "\(result.output)")
                    for sdk in ["anthropic", "openai"] {
                        let texts = (report[sdk] as? [String: Any])?["text"] as? [String: String]
                        #expect(texts?["proxy"] == "Hello from upstream", "\(sdk): \(result.output)")
                        // Time to the first text event, direct and through the proxy (Docs/BENCHMARKS.md).
                        if let times = (report[sdk] as? [String: Any])?["first_event_ms"] as? [String: Double] {
                            print(
                                "SDKProxyTests: \(sdk) first event, median ms: direct \(times["direct"] ?? 0), proxy \(times["proxy"] ?? 0)"
                            )
                        }
                    }
                    // The key went upstream; the agent's token did not.
                    let seen = upstream.received.withLock { $0 }.flatMap { $0.map(\.value) }
                    #expect(seen.contains(ProxyTests.secret) || seen.contains("Bearer " + ProxyTests.secret))
                    #expect(!seen.contains { $0.contains(token) })
                }
            } catch {
                try await store.close()
                throw error
            }
            try await store.close()
        }
    }
}
