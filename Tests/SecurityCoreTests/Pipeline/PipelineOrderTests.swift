import Foundation
@testable import SecurityCore
import Testing

/// The whole pipeline: size, limits, authentication, policy, principal limits, CORS, forward auth.
struct PipelineOrderTests {
    static let policyText = """
        version: 1
        roles: {ceo: owner}
        anonymous: ANONYMOUS
        actions: [whoami.read, agents.create, status.read, admin.local]
        routes:
          - {id: whoami, method: GET, path: /api/whoami, action: whoami.read}
          - {id: agents, method: POST, path: /api/agents, action: agents.create}
          - {id: status, method: GET, path: /api/status, action: status.read}
          - {id: local, method: GET, path: /api/local, action: admin.local}
        rules:
          - {id: whoami, effect: permit, actions: [whoami.read]}
          - {id: admins-create, effect: permit, actions: [agents.create], min_role: admin}
          - {id: status-public, effect: permit, actions: [status.read]CONDITIONS}
          - {id: local-only, effect: permit, actions: [admin.local], conditions: [loopback]}
        """

    let fixture: TokenFixture
    let pipeline: SecurityPipeline

    init() throws {
        fixture = try TokenFixture()
        pipeline = try Self.pipeline(fixture)
    }

    static func pipeline(
        _ fixture: TokenFixture, anonymous: Bool = false, scopes: [RateLimitScope] = RateLimitScope.agtOSStyle,
        trustedProxies: [String] = [], cors: CORSPolicy? = nil, bodyLimits: BodyLimits = .standard
    ) throws -> SecurityPipeline {
        let policy = try PolicyLoader.load(
            yaml:
                policyText
                .replacingOccurrences(of: "ANONYMOUS", with: anonymous ? "true" : "false")
                .replacingOccurrences(of: "CONDITIONS", with: anonymous ? ", conditions: [anonymous]" : ""), source: "test")
        return SecurityPipeline(
            configuration: .init(
                verifier: fixture.verifier, policy: policy,
                rateLimiter: RateLimiter(scopes: scopes, ticks: fixture.clock),
                clientAddresses: ClientAddressResolver(trustedProxies: trustedProxies.compactMap { IPNetwork($0) }),
                bodyLimits: bodyLimits, cors: cors
            ))
    }

    func request(
        _ line: String, token: String? = nil, peer: String = "192.0.2.10", headers: [(String, String)] = [], length: Int? = nil
    ) -> RequestFacts {
        let parts = line.split(separator: " ", maxSplits: 1)
        var fields = headers.map { HeaderField(name: $0.0, value: $0.1) }
        if let token { fields.append(HeaderField(name: "Authorization", value: "Bearer " + token)) }
        return RequestFacts(method: String(parts[0]), path: String(parts[1]), headers: fields, peerAddress: peer, bodyLength: length)
    }

    func status(_ outcome: SecurityOutcome) -> Int {
        switch outcome {
        case .allow: 200
        case .preflight: 204
        case .deny(let refusal): refusal.status
        }
    }

    func refusal(_ outcome: SecurityOutcome) -> Refusal? {
        if case .deny(let refusal) = outcome { return refusal }
        return nil
    }

    func headers(_ outcome: SecurityOutcome) -> [String: String] {
        let fields: [HeaderField]
        switch outcome {
        case .allow(_, let headers), .preflight(let headers): fields = headers
        case .deny(let refusal): fields = refusal.headers
        }
        return Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func policyDecidesAfterAuthentication() throws {
        let developer = try fixture.mint(role: "developer").token
        let ceo = try fixture.mint(agent: "boss", role: "ceo").token
        #expect(status(pipeline.evaluate(request("GET /api/whoami", token: developer))) == 200)
        let denied = pipeline.evaluate(request("POST /api/agents", token: developer))
        let problem = try #require(refusal(denied)).problem
        #expect(problem.status == 403 && problem.code == "forbidden")
        #expect(problem.extensions["action"] == .string("agents.create"))
        #expect(status(pipeline.evaluate(request("POST /api/agents", token: ceo))) == 200)
        // No route at all: default deny, and the body does not echo the path.
        let unknown = try #require(refusal(pipeline.evaluate(request("GET /api/secret-%3Cscript%3E", token: ceo))))
        #expect(unknown.status == 403 && !unknown.problem.json.contains("script"))
    }

    @Test func anonymousOnlyWhereThePolicyAllowsIt() throws {
        let closed = pipeline
        #expect(status(closed.evaluate(request("GET /api/status"))) == 401)
        let open = try Self.pipeline(fixture, anonymous: true)
        #expect(status(open.evaluate(request("GET /api/status"))) == 200)
        // Anonymous requests the policy does not permit are asked for a credential, not forbidden.
        let refused = try #require(refusal(open.evaluate(request("GET /api/whoami"))))
        #expect(refused.status == 401 && refused.headers.contains { $0.name == "WWW-Authenticate" })
        // A credential that is sent is still checked.
        #expect(status(open.evaluate(request("GET /api/status", token: "not-a-token"))) == 401)
    }

    @Test func loopbackRulesUseTheResolvedClient() throws {
        let token = try fixture.mint().token
        #expect(status(pipeline.evaluate(request("GET /api/local", token: token, peer: "127.0.0.1"))) == 200)
        #expect(status(pipeline.evaluate(request("GET /api/local", token: token, peer: "::1"))) == 200)
        #expect(status(pipeline.evaluate(request("GET /api/local", token: token))) == 403)
        // A remote client cannot claim loopback through a forwarding header...
        let spoofed = request("GET /api/local", token: token, headers: [("X-Forwarded-For", "127.0.0.1")])
        #expect(status(pipeline.evaluate(spoofed)) == 403)
        // ...nor through a trusted proxy that forwards for it.
        let proxied = try Self.pipeline(fixture, trustedProxies: ["127.0.0.1"])
        let viaProxy = request("GET /api/local", token: token, peer: "127.0.0.1", headers: [("X-Forwarded-For", "198.51.100.7")])
        #expect(status(proxied.evaluate(viaProxy)) == 403)
    }

    @Test func theTwentyFirstSensitiveRequestIsRefusedAndRefills() throws {
        let ceo = try fixture.mint(agent: "boss", role: "ceo").token
        for _ in 0..<20 {
            #expect(status(pipeline.evaluate(request("POST /api/agents", token: ceo))) == 200)
        }
        let limited = pipeline.evaluate(request("POST /api/agents", token: ceo))
        let refused = try #require(refusal(limited))
        #expect(refused.status == 429 && refused.problem.extensions["scope"] == .string("sensitive"))
        #expect(headers(limited)["Retry-After"] == "3")
        // Another client is unaffected; the same client may read.
        #expect(status(pipeline.evaluate(request("POST /api/agents", token: ceo, peer: "192.0.2.11"))) == 200)
        #expect(status(pipeline.evaluate(request("GET /api/whoami", token: ceo))) == 200)
        fixture.clock.advance(by: .seconds(3))
        #expect(status(pipeline.evaluate(request("POST /api/agents", token: ceo))) == 200)
    }

    @Test func allowedResponsesCarryRateLimitHeaders() throws {
        let token = try fixture.mint().token
        let outcome = pipeline.evaluate(request("GET /api/whoami", token: token))
        let fields = headers(outcome)
        #expect(fields["X-RateLimit-Limit"] == "100")
        #expect(fields["X-RateLimit-Remaining"] == "99")
        #expect(fields["RateLimit-Policy"] == "\"general\";q=100;w=60")
    }

    @Test func failedAuthenticationsLockTheClientOut() throws {
        let good = try fixture.mint().token
        for _ in 0..<10 {
            #expect(status(pipeline.evaluate(request("GET /api/whoami", token: "forged"))) == 401)
        }
        // The eleventh attempt, even with a good token, is refused before the token is looked at.
        let locked = try #require(refusal(pipeline.evaluate(request("GET /api/whoami", token: good))))
        #expect(locked.status == 429 && locked.problem.extensions["scope"] == .string("auth-failures"))
        #expect(status(pipeline.evaluate(request("GET /api/whoami", token: good, peer: "192.0.2.99"))) == 200)
        fixture.clock.advance(by: .seconds(6))
        #expect(status(pipeline.evaluate(request("GET /api/whoami", token: good))) == 200)
    }

    @Test func policyDenialsSpendTheClientBudget() throws {
        let scopes = [try RateLimitScope(name: "tight", limit: 2, period: .seconds(60), routes: [RouteMatch("/api/*")!])]
        let limited = try Self.pipeline(fixture, scopes: scopes)
        let developer = try fixture.mint().token
        #expect(status(limited.evaluate(request("POST /api/agents", token: developer))) == 403)
        #expect(status(limited.evaluate(request("POST /api/agents", token: developer))) == 403)
        #expect(status(limited.evaluate(request("GET /api/whoami", token: developer))) == 429)
    }

    @Test func bodySizeComesFirst() throws {
        let limits = try BodyLimits(default: 1_000, routes: [(RouteMatch("POST /api/agents")!, 10)])
        let sized = try Self.pipeline(fixture, bodyLimits: limits)
        // Refused before authentication: no credential needed to learn the cap.
        let refused = try #require(refusal(sized.evaluate(request("POST /api/agents", length: 11))))
        #expect(refused.status == 413 && refused.problem.extensions["limit"] == .integer(10))
        #expect(status(sized.evaluate(request("POST /api/whoami", length: 1_001))) == 413)
        #expect(status(sized.evaluate(request("POST /api/agents", length: 10))) == 401)
        #expect(sized.bodyLimit(method: "POST", path: "/api/agents?x=1") == 10)
        #expect(sized.bodyLimit(method: "GET", path: "/api/agents") == 1_000)
        #expect(throws: BodyLimitsError.self) { try BodyLimits(default: -1) }
    }

    @Test(arguments: [
        "/api/%2Fwhoami", "/api/%5cwhoami", "/api/whoami%3F", "/api/whoami%3fx", "/api/whoami%23", "/api/who%00ami", "/api/who%zzami",
        "/api/who%4", "api/whoami", "/api/%C3%28", "/api/who ami",
        // A dot segment, as sent or escaped: resolved by one server, routed as a name by another.
        "/api/x/../whoami", "/api/./whoami", "/api/whoami/..", "/api/%2E%2E/whoami", "/api/%2e/whoami", "/..",
    ])
    func ambiguousPathsAreRefused(path: String) throws {
        let token = try fixture.mint().token
        let refused = try #require(refusal(pipeline.evaluate(request("GET " + path, token: token))))
        #expect(refused.status == 400 && refused.problem.code == "invalid_path")
    }

    @Test func escapedPathsAreDecidedAsTheirDecodedForm() throws {
        let developer = try fixture.mint().token
        // %61 is "a": the application behind sees /api/agents, so the policy must too.
        #expect(status(pipeline.evaluate(request("POST /api/%61gents", token: developer))) == 403)
        #expect(status(pipeline.evaluate(request("GET /api/who%61mi", token: developer))) == 200)
        // An escaped space is an ordinary character: no route here, so the default deny, not a 400.
        #expect(status(pipeline.evaluate(request("GET /api/who%20ami", token: developer))) == 403)
        // Empty segments are skipped, as the router skips them: decided as the route it reaches.
        #expect(status(pipeline.evaluate(request("GET //api/whoami/", token: developer))) == 200)
        #expect(status(pipeline.evaluate(request("POST /api//agents", token: developer))) == 403)
        // Three or more dots are a name like any other: no route here, so the default deny.
        #expect(status(pipeline.evaluate(request("GET /api/.../whoami", token: developer))) == 403)
    }

    @Test func corsAllowListAndPreflight() throws {
        let cors = try CORSPolicy(allowedOrigins: ["https://console.example.com"])
        let browser = try Self.pipeline(fixture, cors: cors)
        let token = try fixture.mint().token
        let allowed = browser.evaluate(request("GET /api/whoami", token: token, headers: [("Origin", "https://console.example.com")]))
        #expect(headers(allowed)["Access-Control-Allow-Origin"] == "https://console.example.com")
        #expect(headers(allowed)["Vary"] == "Origin")
        let other = browser.evaluate(request("GET /api/whoami", token: token, headers: [("Origin", "https://evil.example")]))
        #expect(status(other) == 200 && headers(other)["Access-Control-Allow-Origin"] == nil)
        // Refusals carry the headers too, so the page can read why.
        let refused = browser.evaluate(request("GET /api/whoami", headers: [("Origin", "https://console.example.com")]))
        #expect(status(refused) == 401 && headers(refused)["Access-Control-Allow-Origin"] != nil)

        let preflight = browser.evaluate(
            request(
                "OPTIONS /api/agents",
                headers: [
                    ("Origin", "https://console.example.com"), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "authorization, content-type"),
                ]))
        #expect(status(preflight) == 204)
        #expect(headers(preflight)["Access-Control-Allow-Methods"]?.contains("POST") == true)
        #expect(headers(preflight)["Access-Control-Allow-Credentials"] == nil)
        let badOrigin = browser.evaluate(
            request(
                "OPTIONS /api/agents",
                headers: [
                    ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST"),
                ]))
        #expect(refusal(badOrigin)?.problem.code == "cors_refused")
        let badHeader = browser.evaluate(
            request(
                "OPTIONS /api/agents",
                headers: [
                    ("Origin", "https://console.example.com"), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "x-admin-override"),
                ]))
        #expect(status(badHeader) == 403)
        // Without CORS configured, preflights are refused and responses carry nothing.
        #expect(
            status(
                pipeline.evaluate(
                    request("OPTIONS /api/agents", headers: [("Origin", "https://a.example"), ("Access-Control-Request-Method", "GET")])))
                == 403)
    }

    @Test func corsConfigurationIsChecked() throws {
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: ["*"], allowsCredentials: true) }
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: ["null"]) }
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: ["https://a.example/path"]) }
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: ["a.example"]) }
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: ["https://a.example:99999"]) }
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: []) }
        #expect(throws: CORSConfigurationError.self) { try CORSPolicy(allowedOrigins: ["*", "https://a.example"]) }
        let any = try CORSPolicy(allowedOrigins: ["*"])
        #expect(any.responseHeaders(origin: "https://x.example").first?.value == "*")
        _ = try CORSPolicy(allowedOrigins: ["http://[::1]:8080", "HTTPS://Console.Example.com"], allowsCredentials: true)
    }

    @Test func forwardAuthAnswersOnlyTrustedProxies() throws {
        let token = try fixture.mint(agent: "boss", role: "ceo", team: "exec").token
        let original: [(String, String)] = [("X-Original-Method", "POST"), ("X-Original-URI", "/api/agents?x=1")]
        let untrusted = pipeline.evaluateForwardAuth(request("GET /auth/verify", token: token, peer: "127.0.0.1", headers: original))
        #expect(refusal(untrusted)?.problem.code == "untrusted_proxy")

        let proxied = try Self.pipeline(fixture, trustedProxies: ["127.0.0.1"])
        let allowed = proxied.evaluateForwardAuth(request("GET /auth/verify", token: token, peer: "127.0.0.1", headers: original))
        #expect(status(allowed) == 200)
        #expect(headers(allowed)["X-Auth-Agent-ID"] == "boss")
        #expect(headers(allowed)["X-Auth-Role"] == "ceo")
        #expect(headers(allowed)["X-Auth-Team"] == "exec")
        #expect(headers(allowed)["X-Auth-Method"] == "agent-token")

        let developer = try fixture.mint().token
        #expect(
            status(proxied.evaluateForwardAuth(request("GET /auth/verify", token: developer, peer: "127.0.0.1", headers: original))) == 403)
        #expect(status(proxied.evaluateForwardAuth(request("GET /auth/verify", peer: "127.0.0.1", headers: original))) == 401)
        // Traefik's spelling.
        let traefik = [("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/api/whoami")]
        #expect(
            status(proxied.evaluateForwardAuth(request("GET /auth/verify", token: developer, peer: "127.0.0.1", headers: traefik))) == 200)
    }

    @Test(arguments: [
        [("X-Original-URI", "/api/whoami")],
        [("X-Original-Method", "GET")],
        [("X-Original-Method", "GET"), ("X-Original-Method", "GET"), ("X-Original-URI", "/api/whoami")],
        [("X-Original-Method", "get"), ("X-Original-URI", "/api/whoami")],
        [("X-Original-Method", "GET"), ("X-Original-URI", "https://x/api/whoami")],
        [("X-Original-Method", "GET"), ("X-Original-URI", "/api/%2e%2e%2Fwhoami")],
    ])
    func forwardAuthRefusesMalformedOriginals(headers: [(String, String)]) throws {
        let proxied = try Self.pipeline(fixture, trustedProxies: ["127.0.0.1"])
        let token = try fixture.mint().token
        #expect(status(proxied.evaluateForwardAuth(request("GET /auth/verify", token: token, peer: "127.0.0.1", headers: headers))) == 400)
    }

    @Test func forwardAuthLimitsTheOriginalClient() throws {
        let proxied = try Self.pipeline(fixture, trustedProxies: ["127.0.0.1"])
        let ceo = try fixture.mint(agent: "boss", role: "ceo").token
        func verify(_ client: String) -> SecurityOutcome {
            proxied.evaluateForwardAuth(
                request(
                    "GET /auth/verify", token: ceo, peer: "127.0.0.1",
                    headers: [
                        ("X-Original-Method", "POST"), ("X-Original-URI", "/api/agents"), ("X-Forwarded-For", client),
                    ]))
        }
        for _ in 0..<20 { #expect(status(verify("198.51.100.1")) == 200) }
        #expect(status(verify("198.51.100.1")) == 429)
        // Keyed by the client the proxy names, not by the proxy.
        #expect(status(verify("198.51.100.2")) == 200)
    }

    @Test func publicPathsSkipEverythingButSize() throws {
        for _ in 0..<200 {
            #expect(status(pipeline.evaluate(request("GET /health"))) == 200)
        }
        #expect(status(pipeline.evaluate(request("GET /health", length: 2 << 20))) == 413)
    }
}
