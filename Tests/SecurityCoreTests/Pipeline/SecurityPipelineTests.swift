import Foundation
@testable import SecurityCore
import Testing

struct SecurityPipelineTests {
    let fixture: TokenFixture

    init() throws {
        fixture = try TokenFixture()
    }

    func pipeline(_ mode: AuthenticationMode = .secure) -> SecurityPipeline {
        SecurityPipeline(configuration: .init(verifier: fixture.verifier, mode: mode))
    }

    func facts(_ headers: [(String, String)], path: String = "/api/whoami") -> RequestFacts {
        RequestFacts(method: "GET", path: path, headers: headers.map { HeaderField(name: $0.0, value: $0.1) }, peerAddress: "127.0.0.1")
    }

    func allowed(_ outcome: SecurityOutcome) -> Principal? {
        if case .allow(let principal, _) = outcome { return principal }
        return nil
    }

    func refused(_ outcome: SecurityOutcome) -> Refusal? {
        if case .deny(let refusal) = outcome { return refusal }
        return nil
    }

    @Test func bearerAndTokenHeaderBothAuthenticate() throws {
        let token = try fixture.mint().token
        for headers in [
            [("Authorization", "Bearer \(token)")], [("authorization", "bearer \(token)")], [("X-Agent-Token", token)],
            [("Authorization", "  BEARER   \(token)  ")],
            [("Authorization", "Bearer \(token)"), ("X-Agent-Token", token)],
        ] {
            let principal = try #require(allowed(pipeline().evaluate(facts(headers))))
            #expect(principal.subject.name == "builder-7")
            #expect(principal.subject.method == "agent-token")
        }
    }

    @Test func publicPathsNeedNoCredential() {
        let outcome = pipeline().evaluate(facts([], path: "/health?x=1"))
        #expect(outcome == .allow(principal: nil, headers: []))
    }

    @Test func localPathsAreOpenOnlyToALocalClient() throws {
        for trusted in [[], [IPNetwork("127.0.0.1/32")!]] {
            let pipeline = SecurityPipeline(
                configuration: .init(
                    verifier: fixture.verifier, localPaths: ["/metrics"], clientAddresses: ClientAddressResolver(trustedProxies: trusted)
                ))
            func outcome(peer: String, _ headers: [(String, String)] = []) -> SecurityOutcome {
                pipeline.evaluate(
                    RequestFacts(
                        method: "GET", path: "/metrics", headers: headers.map { HeaderField(name: $0.0, value: $0.1) }, peerAddress: peer
                    ))
            }
            // From this machine, straight: open, unless the peer is the trusted proxy.
            if trusted.isEmpty {
                #expect(refused(outcome(peer: "127.0.0.1")) == nil)
                #expect(refused(outcome(peer: "[::1]:40000")) == nil)
            } else {
                #expect(refused(outcome(peer: "127.0.0.1"))?.status == 401)
            }
            #expect(refused(outcome(peer: "127.0.0.1", [("X-Forwarded-For", "203.0.113.9")]))?.status == 401)
            #expect(refused(outcome(peer: "203.0.113.9"))?.status == 401)
            // Only the paths named: the rest still needs a credential from a local client too.
            let other = pipeline.evaluate(RequestFacts(method: "GET", path: "/api/whoami", headers: [], peerAddress: "127.0.0.2"))
            #expect(refused(other)?.status == 401)
        }
    }

    @Test func thePolicysLoopbackConditionMeansALocalClient() throws {
        let policy = try PolicyLoader.load(
            yaml: """
                version: 1
                actions: [debug.read]
                routes: [{id: debug, method: GET, path: /debug, action: debug.read}]
                rules: [{id: local-debug, effect: permit, actions: [debug.read], conditions: [loopback]}]
                """)
        let token = try fixture.mint().token
        for trusted in [[], [IPNetwork("127.0.0.1/32")!]] {
            let pipeline = SecurityPipeline(
                configuration: .init(
                    verifier: fixture.verifier, policy: policy, rateLimiter: nil,
                    clientAddresses: ClientAddressResolver(trustedProxies: trusted)
                ))
            func status(peer: String, _ headers: [(String, String)] = []) -> Int {
                let facts = RequestFacts(
                    method: "GET", path: "/debug",
                    headers: ([("Authorization", "Bearer \(token)")] + headers).map { HeaderField(name: $0.0, value: $0.1) },
                    peerAddress: peer
                )
                return refused(pipeline.evaluate(facts))?.status ?? 200
            }
            #expect(status(peer: "127.0.0.1") == (trusted.isEmpty ? 200 : 403))
            #expect(status(peer: "127.0.0.1", [("X-Forwarded-For", "127.0.0.1")]) == 403)
            #expect(status(peer: "127.0.0.1", [("Forwarded", "for=203.0.113.9")]) == 403)
            #expect(status(peer: "10.1.1.1") == 403)
        }
    }

    @Test func missingCredentialIs401WithChallenge() throws {
        let refusal = try #require(refused(pipeline().evaluate(facts([]))))
        #expect(refusal.status == 401 && refusal.problem.code == "missing_credential")
        #expect(refusal.headers.contains(HeaderField(name: "WWW-Authenticate", value: "Bearer realm=\"agenthost\"")))
    }

    @Test func tokensInTheQueryStringAreIgnored() throws {
        let token = try fixture.mint().token
        let refusal = try #require(refused(pipeline().evaluate(facts([], path: "/api/whoami?access_token=\(token)&token=\(token)"))))
        #expect(refusal.problem.code == "missing_credential")
    }

    @Test func identityHeadersMustMatchTheToken() throws {
        let token = try fixture.mint().token
        let bearer = ("Authorization", "Bearer \(token)")
        #expect(
            allowed(
                pipeline().evaluate(facts([bearer, ("X-Agent-ID", "builder-7"), ("X-Agent-Role", "developer"), ("X-Agent-Team", "core")])))
                != nil)
        for mismatch in [("X-Agent-ID", "builder-8"), ("X-Agent-Role", "admin"), ("X-Agent-Team", ""), ("x-agent-team", "other")] {
            for mode in AuthenticationMode.allCases {
                let refusal = try #require(refused(pipeline(mode).evaluate(facts([bearer, mismatch]))))
                #expect(refusal.status == 401 && refusal.problem.code == "identity_mismatch")
            }
        }
    }

    @Test func ambiguousCredentialsAreRefused() throws {
        let a = try fixture.mint().token
        let b = try fixture.mint().token
        let cases: [[(String, String)]] = [
            [("Authorization", "Bearer \(a)"), ("X-Agent-Token", b)],
            [("Authorization", "Bearer \(a)"), ("Authorization", "Bearer \(a)")],
            [("X-Agent-Token", a), ("x-agent-token", a)],
            [("X-Agent-Token", a), ("X-Agent-ID", "builder-7"), ("X-Agent-ID", "builder-7")],
        ]
        for headers in cases {
            #expect(refused(pipeline().evaluate(facts(headers)))?.status == 401)
        }
    }

    @Test func aSpaceAnywhereInATokenIsFound() {
        func isSpaced(_ bytes: [UInt8]) -> Bool {
            PresentedCredential(String(decoding: bytes, as: UTF8.self), source: .bearer).isSpacedBearer
        }
        let token = Array(String(repeating: "ah1.abcdefgh", count: 5).utf8)
        #expect(!isSpaced(token))
        for position in token.indices {
            var spaced = token
            spaced[position] = UInt8(ascii: " ")
            #expect(isSpaced(spaced), "position \(position)")
            // Bytes next to a space in value (0x1F, 0x21, 0xA0) are not spaces.
            for near in [UInt8(0x1F), 0x21, 0xA0] {
                var other = token
                other[position] = near
                #expect(!isSpaced(other), "position \(position)")
            }
        }
    }

    @Test(arguments: [
        "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Token abc", "", "Bearerx abc", "Bearer\tabc", "Béarer abc", "Bear",
    ])
    func otherAuthorizationShapesAreRefused(value: String) throws {
        let refusal = try #require(refused(pipeline().evaluate(facts([("Authorization", value)]))))
        #expect(refusal.status == 401 && refusal.problem.code == "unsupported_scheme")
    }

    @Test(arguments: [
        "", "garbage", String(repeating: "A", count: 10_240), "ah1." + String(repeating: "é", count: 5000),
        "ah1.\u{7f}\u{1}.x", "🙂🙂🙂",
    ])
    func badTokensGetA401ProblemThatDoesNotEchoThem(token: String) throws {
        for headers in [[("X-Agent-Token", token)], [("Authorization", "Bearer \(token)")]] {
            let refusal = try #require(refused(pipeline().evaluate(facts(headers))))
            #expect(refusal.status == 401)
            let json = try JSONSerialization.jsonObject(with: Data(refusal.problem.json.utf8)) as? [String: Any]
            #expect(json?["status"] as? Int == 401)
            #expect(json?["type"] as? String != nil && json?["title"] as? String == "Unauthorized")
            if token.count > 4 { #expect(!refusal.problem.json.contains(token)) }
        }
    }

    @Test func refusalCodesSayWhatAClientMayKnow() throws {
        let token = try fixture.mint(lifetime: .seconds(60)).token
        fixture.revocations.revoke(tokenID: try fixture.verifier.verify(token).tokenID, expiresAt: TokenFixture.start + 60)
        #expect(refused(pipeline().evaluate(facts([("X-Agent-Token", token)])))?.problem.code == "token_revoked")
        let other = try fixture.mint(lifetime: .seconds(60)).token
        fixture.clock.advance(by: 3600)
        let expired = try #require(refused(pipeline().evaluate(facts([("X-Agent-Token", other)]))))
        #expect(expired.problem.code == "token_expired")
        #expect(expired.headers.first?.value.contains("error=\"invalid_token\"") == true)
        // A signature failure and an unknown key look the same from outside.
        let foreign = try TokenFixture(keyID: "k-other").mint().token
        var tampered = Array(try fixture.mint().token)
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == "A" ? "B" : "A"
        for token in [foreign, String(tampered)] {
            #expect(refused(pipeline().evaluate(facts([("X-Agent-Token", token)])))?.problem.code == "invalid_token")
        }
    }

    @Test func headerTrustBelievesHeadersWithoutAToken() throws {
        let trusted = pipeline(.headerTrust)
        let principal = try #require(allowed(trusted.evaluate(facts([("X-Agent-ID", "ceo-1"), ("X-Agent-Role", "ceo")]))))
        #expect(principal.subject.name == "ceo-1" && principal.role.rawValue == "ceo" && principal.team.isEmpty)
        #expect(principal.subject == .trustedAgent(try AgentID("ceo-1")))

        #expect(refused(trusted.evaluate(facts([("X-Agent-ID", "ceo-1")])))?.problem.code == "missing_credential")
        #expect(
            refused(trusted.evaluate(facts([("X-Agent-ID", "ceo 1"), ("X-Agent-Role", "ceo")])))?.problem.code == "invalid_identity_headers"
        )
        #expect(refused(trusted.evaluate(facts([("X-Agent-ID", "a"), ("X-Agent-Role", "r"), ("X-Agent-Team", "t/x")])))?.status == 401)
        // A presented token is still verified, and a bad one refused.
        #expect(
            refused(trusted.evaluate(facts([("X-Agent-ID", "ceo-1"), ("X-Agent-Role", "ceo"), ("X-Agent-Token", "ah1.bad")])))?.status
                == 401)
        // Secure mode ignores identity headers without a token.
        #expect(
            refused(pipeline().evaluate(facts([("X-Agent-ID", "ceo-1"), ("X-Agent-Role", "ceo")])))?.problem.code == "missing_credential")
    }

    @Test func problemJSONEscapes() throws {
        let problem = Problem(type: "t", title: "a \"quoted\"\n\u{1} title", status: 400, detail: "back\\slash", code: "c")
        let json = try JSONSerialization.jsonObject(with: Data(problem.json.utf8)) as? [String: Any]
        #expect(json?["title"] as? String == "a \"quoted\"\n\u{1} title")
        #expect(json?["detail"] as? String == "back\\slash")
    }

    /// Of the kind `stub-`: accepts `stub-good-<agent>` as a principal of that name, refuses
    /// `stub-bad-…`, leaves any other `stub-` credential to the next authenticator.
    struct StubAuthenticator: Authenticator {
        let kind = CredentialKind(name: "stub", prefix: "stub-", minimumBodyLength: 4)

        func authenticate(_ presented: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
            #expect(presented.hasPrefix("stub-"), "the pipeline hands an authenticator only credentials of its kind")
            let credential = presented.text.dropFirst(5)
            if credential.hasPrefix("good-"), let agent = try? AgentID(String(credential.dropFirst(5))) {
                return .success(Principal(subject: .apiKey(agent), role: try! Role("member"), team: .none))
            }
            if credential.hasPrefix("bad-") { return .failure(AuthenticationFailure(.invalidCredential, "no")) }
            return nil
        }
    }

    @Test func otherCredentialsGoToTheAuthenticatorAndAgentTokensDoNot() throws {
        let pipeline = SecurityPipeline(configuration: .init(verifier: fixture.verifier, authenticators: [StubAuthenticator()]))
        let principal = try #require(allowed(pipeline.evaluate(facts([("Authorization", "Bearer stub-good-k1")]))))
        #expect(principal.id == "key:k1" && principal.subject.method == "api-key")
        for credential in ["stub-bad-k1", "stub-other", "unknown", "good-k1"] {
            let refusal = try #require(refused(pipeline.evaluate(facts([("Authorization", "Bearer \(credential)")]))))
            #expect(refusal.status == 401 && refusal.problem.code == "invalid_token")
        }
        // Identity binding holds for every kind of credential.
        let mismatch = try #require(refused(pipeline.evaluate(facts([("Authorization", "Bearer stub-good-k1"), ("X-Agent-ID", "k2")]))))
        #expect(mismatch.problem.code == "identity_mismatch")
        let token = try fixture.mint().token
        #expect(allowed(pipeline.evaluate(facts([("Authorization", "Bearer \(token)")])))?.subject.method == "agent-token")
    }

    /// The pipeline looks for a space inside a bearer token only once something has failed; the
    /// answer must be the same as looking first, whatever else is wrong with the request.
    @Test func aBearerTokenWithASpaceIsAnUnsupportedSchemeWhateverElseIsWrong() throws {
        let token = Array(try fixture.mint().token)
        // Made anew for each request, so the failure budget of the default limits never runs out.
        let pipelines: [() -> SecurityPipeline] = [
            { pipeline() }, { SecurityPipeline(configuration: .init(verifier: fixture.verifier, authenticators: [StubAuthenticator()])) },
        ]
        for position in [4, token.count / 2, token.count - 2] {
            var spaced = token
            spaced[position] = " "
            let bearer = ("Authorization", "Bearer " + String(spaced))
            let cases: [[(String, String)]] = [
                [bearer],
                [bearer, ("X-Agent-Token", String(token))],
                [bearer, ("X-Agent-ID", "a"), ("X-Agent-ID", "b")],
                [("Authorization", "Bearer stub-good-k1 x")],
            ]
            for pipeline in pipelines {
                for headers in cases {
                    let refusal = try #require(refused(pipeline().evaluate(facts(headers))))
                    #expect(refusal.problem.code == "unsupported_scheme", "\(headers.map(\.0)) position \(position)")
                }
            }
        }
        #expect(CredentialExtractor.bearerTokenRange(Array("Bearer a b".utf8)) == nil)
        #expect(CredentialExtractor.bearerTokenRange(Array("Bearer a b".utf8), checkingSpaces: false) == 7..<10)
    }

    @Test func selfAuthenticatingPathsAreRateLimitedButNeedNoCredential() throws {
        let scope = try RateLimitScope(name: "login", limit: 2, period: .seconds(60), routes: [#require(RouteMatch("POST /api/login"))])
        let pipeline = SecurityPipeline(
            configuration: .init(
                verifier: fixture.verifier, rateLimiter: RateLimiter(scopes: [scope], ticks: fixture.clock),
                selfAuthenticatingPaths: ["/api/login"]
            ))
        let login = RequestFacts(method: "POST", path: "/api/login", headers: [], peerAddress: "10.0.0.1")
        for _ in 0..<2 {
            guard case .allow(nil, let headers) = pipeline.evaluate(login) else {
                Issue.record("login was not let through")
                return
            }
            #expect(headers.contains { $0.name == "X-RateLimit-Limit" })
        }
        #expect(refused(pipeline.evaluate(login))?.status == 429)
        // Only that path: everything else still needs a credential.
        #expect(refused(pipeline.evaluate(facts([])))?.status == 401)
    }
}
