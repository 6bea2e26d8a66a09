import AgentHost
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import SecurityCore
import Testing

/// `POST /api/agents`, body caps, forward auth and the policy commands.
struct AgentRoutesTests {
    func create(_ body: String, token: String, contentType: String = "application/json") -> (HTTPFields, ByteBuffer) {
        ([.authorization: "Bearer \(token)", .contentType: contentType], ByteBuffer(string: body))
    }

    @Test func ownersMintTokensThatVerify() async throws {
        let fixture = try HostFixture()
        let ceo = try fixture.token(agent: "orchestrator", role: "ceo").token
        try await fixture.application().test(.router) { client in
            let (headers, body) = create(#"{"agent_id": "worker-1", "role": "developer", "team": "core", "ttl": 3600}"#, token: ceo)
            try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .created)
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[HTTPField.Name("X-RateLimit-Limit")!] != nil)
                let reply = try json(response.body)
                #expect(reply["agent_id"] as? String == "worker-1" && reply["role"] as? String == "developer")
                #expect(reply["expires_at"] as? String == "2027-01-15T09:00:00Z")
                let token = try #require(reply["token"] as? String)
                let claims = try fixture.components.pipeline.configuration.verifier.verify(token)
                #expect(claims.agent.rawValue == "worker-1" && claims.tokenID.hex == reply["token_id"] as? String)
            }
            // The new token works at once.
        }
    }

    /// `ttl` takes whole seconds or the duration strings `--ttl` takes.
    @Test func theLifetimeIsSecondsOrADurationString() async throws {
        let fixture = try HostFixture(scopes: [])
        let ceo = try fixture.token(agent: "orchestrator", role: "ceo").token
        try await fixture.application().test(.router) { client in
            for (ttl, seconds) in [("3600", 3_600), (#""1h""#, 3_600), (#""1h30m""#, 5_400), (#""90""#, 90), (#""7d""#, 604_800)] {
                let (headers, body) = create(#"{"agent_id": "w", "role": "developer", "ttl": \#(ttl)}"#, token: ceo)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .created, "\(ttl)")
                    let token = try #require(try json(response.body)["token"] as? String)
                    let claims = try fixture.components.pipeline.configuration.verifier.verify(token)
                    #expect(claims.expiresAt - claims.issuedAt == Int64(seconds), "\(ttl)")
                }
            }
            for (ttl, code) in [
                (#""1x""#, "invalid_duration"), (#""0s""#, "below_minimum"), (#""8d""#, "above_maximum"), ("true", "wrong_type"),
            ] {
                let (headers, body) = create(#"{"agent_id": "w", "role": "developer", "ttl": \#(ttl)}"#, token: ceo)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .badRequest)
                    let errors = try #require(try json(response.body)["errors"] as? [[String: Any]])
                    #expect(errors.first?["field"] as? String == "/ttl" && errors.first?["code"] as? String == code, "\(ttl)")
                }
            }
        }
    }

    @Test func onlyAdminsAndOwnersMintAndNeverAboveThemselves() async throws {
        let fixture = try HostFixture()
        let developer = try fixture.token(role: "developer").token
        let viewer = try fixture.token(role: "viewer").token
        let admin = try fixture.token(role: "admin").token
        try await fixture.application().test(.router) { client in
            for token in [developer, viewer] {
                let (headers, body) = create(#"{"agent_id": "w", "role": "viewer"}"#, token: token)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .forbidden)
                    let codeValue = try json(response.body)["code"] as? String
                    #expect(codeValue == "forbidden")
                }
            }
            for role in ["owner", "ceo"] {
                let (headers, body) = create(#"{"agent_id": "w", "role": "\#(role)"}"#, token: admin)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .forbidden)
                    let codeValue = try json(response.body)["code"] as? String
                    #expect(codeValue == "role_above_caller")
                }
            }
            for role in ["admin", "developer", "custom-bot"] {
                let (headers, body) = create(#"{"agent_id": "w", "role": "\#(role)"}"#, token: admin)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == .created, "admin minting \(role)")
                }
            }
        }
    }

    @Test func headerTrustIdentitiesCannotMint() async throws {
        let fixture = try HostFixture(mode: .headerTrust)
        try await fixture.application().test(.router) { client in
            let headers: HTTPFields = [
                HTTPField.Name("X-Agent-ID")!: "boss", HTTPField.Name("X-Agent-Role")!: "ceo", .contentType: "application/json",
            ]
            try await client.execute(
                uri: "/api/agents", method: .post, headers: headers, body: ByteBuffer(string: #"{"agent_id": "w", "role": "ceo"}"#)
            ) { response in
                #expect(response.status == .forbidden)
                let codeValue = try json(response.body)["code"] as? String
                #expect(codeValue == "token_required")
            }
        }
    }

    @Test func badBodiesGetA4xxNeverA500() async throws {
        let fixture = try HostFixture(scopes: [])
        let ceo = try fixture.token(role: "ceo").token
        let cases: [(String, String, HTTPResponse.Status, String)] = [
            (#"{"agent_id": "w"}"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "bad id", "role": "x", "ttl": 999999999, "extra": 1}"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "w", "role": "x", "team": "no spaces"}"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "w", "role": "x", "ttl": "1 hour"}"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "w", "role": "x", "ttl": 1.5}"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "w", "role": "x", "ttl": "8d"}"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "w", "agent_id": "v", "role": "x"}"#, "application/json", .badRequest, "invalid_json"),
            (#"{"agent_id": "w""#, "application/json", .badRequest, "invalid_json"),
            ("", "application/json", .badRequest, "invalid_json"),
            (#"[]"#, "application/json", .badRequest, "validation_failed"),
            (#"{"agent_id": "w", "role": "x"}"#, "text/plain", .unsupportedMediaType, "unsupported_media_type"),
            (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "application/json", .badRequest, "invalid_json"),
        ]
        try await fixture.application().test(.router) { client in
            for (text, type, status, code) in cases {
                let (headers, body) = create(text, token: ceo, contentType: type)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    #expect(response.status == status, "\(text.prefix(40))")
                    let codeValue = try json(response.body)["code"] as? String
                    #expect(codeValue == code, "\(text.prefix(40))")
                }
            }
            let (headers, body) = create(#"{"agent_id": "bad id", "role": "x", "ttl": 999999999, "extra": 1}"#, token: ceo)
            try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                let errors = try #require(try json(response.body)["errors"] as? [[String: Any]])
                let fields = errors.map { "\($0["field"] as? String ?? "") \($0["code"] as? String ?? "")" }
                #expect(fields == ["/agent_id invalid_identifier", "/ttl above_maximum", "/extra unknown_field"])
            }
        }
    }

    @Test func theTwentyFirstMintInAMinuteIsRefused() async throws {
        let fixture = try HostFixture()
        let ceo = try fixture.token(role: "ceo").token
        try await fixture.application().test(.router) { client in
            for index in 1...21 {
                let (headers, body) = create(#"{"agent_id": "w\#(index)", "role": "developer"}"#, token: ceo)
                try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                    if index <= 20 {
                        #expect(response.status == .created)
                    } else {
                        #expect(response.status == .tooManyRequests)
                        #expect(response.headers[.retryAfter] == "3")
                        let scopeValue = try json(response.body)["scope"] as? String
                        #expect(scopeValue == "sensitive")
                    }
                }
            }
            fixture.clock.advance(by: .seconds(3))
            let (headers, body) = create(#"{"agent_id": "w22", "role": "developer"}"#, token: ceo)
            try await client.execute(uri: "/api/agents", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .created)
            }
        }
    }

    @Test func bodiesOverTheCapAreCutOffWhileReading() async throws {
        let fixture = try HostFixture(bodyLimit: 1_024)
        let ceo = try fixture.token(role: "ceo").token
        try await fixture.application().test(.live) { client in
            let port = try #require(client.port)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            // 64 KiB in chunks with no declared length: endless as far as the server knows.
            func chunked(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                request.method = method
                request.headers.add(name: "Authorization", value: "Bearer \(ceo)")
                let chunks = AsyncStream<ByteBuffer> { continuation in
                    for _ in 0..<64 { continuation.yield(ByteBuffer(repeating: 0x20, count: 1_024)) }
                    continuation.finish()
                }
                request.body = .stream(chunks, length: .unknown)
                return request
            }
            do {
                // Declared too large: refused before authentication, from the header alone.
                var declared = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/agents")
                declared.method = .POST
                declared.headers.add(name: "Content-Type", value: "application/json")
                declared.body = .bytes(ByteBuffer(repeating: 0x20, count: 4_096))
                let first = try await http.execute(declared, timeout: .seconds(10))
                #expect(first.status.code == 413)

                // Chunked with no declared length: cut off at the cap while read.
                var streamed = chunked(.POST, "/api/agents")
                streamed.headers.add(name: "Content-Type", value: "application/json")
                let second = try await http.execute(streamed, timeout: .seconds(10))
                #expect(second.status.code == 413)
                let problem = try await second.body.collect(upTo: 4_096)
                #expect(String(buffer: problem).contains("body_too_large"))

                // A GET is only left unread when its framing says it has no body; a chunked one is read and capped.
                let third = try await http.execute(chunked(.GET, "/api/whoami"), timeout: .seconds(10))
                #expect(third.status.code == 413)
                var plainGet = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/whoami")
                plainGet.headers.add(name: "Authorization", value: "Bearer \(ceo)")
                let fourth = try await http.execute(plainGet, timeout: .seconds(10))
                #expect(fourth.status.code == 200)
            } catch {
                try await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    @Test func forwardAuthOverHTTP() async throws {
        let trusted = try HostFixture(trustedProxies: ["127.0.0.1", "::1"])
        let developer = try trusted.token(agent: "dev-1", role: "developer", team: "core").token
        let viewer = try trusted.token(role: "viewer").token
        try await trusted.application().test(.live) { client in
            func verify(_ method: String, _ uri: String, token: String?, check: @escaping @Sendable (TestResponse) throws -> Void)
                async throws
            {
                var headers: HTTPFields = [HTTPField.Name("X-Original-Method")!: method, HTTPField.Name("X-Original-URI")!: uri]
                if let token { headers[.authorization] = "Bearer \(token)" }
                try await client.execute(uri: "/auth/verify", method: .get, headers: headers) { try check($0) }
            }
            try await verify("POST", "/chat/send?x=1", token: developer) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("X-Auth-Agent-ID")!] == "dev-1")
                #expect(response.headers[HTTPField.Name("X-Auth-Role")!] == "developer")
                #expect(response.headers[HTTPField.Name("X-Auth-Team")!] == "core")
                #expect(response.body.readableBytes == 0)
            }
            try await verify("POST", "/chat/send", token: viewer) { #expect($0.status == .forbidden) }
            try await verify("GET", "/chat/history", token: viewer) { #expect($0.status == .ok) }
            try await verify("GET", "/chat/history", token: nil) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] != nil)
            }
            // A client's own identity headers are not believed in secure mode.
            try await client.execute(
                uri: "/auth/verify", method: .get,
                headers: [
                    HTTPField.Name("X-Original-Method")!: "GET", HTTPField.Name("X-Original-URI")!: "/x",
                    HTTPField.Name("X-Agent-ID")!: "ceo-1", HTTPField.Name("X-Agent-Role")!: "ceo",
                ]
            ) { #expect($0.status == .unauthorized) }
        }
        // Without trusted proxies, nobody may ask.
        let closed = try HostFixture()
        let token = try closed.token().token
        try await closed.application().test(.live) { client in
            try await client.execute(
                uri: "/auth/verify", method: .get,
                headers: [
                    .authorization: "Bearer \(token)", HTTPField.Name("X-Original-Method")!: "GET", HTTPField.Name("X-Original-URI")!: "/x",
                ]
            ) { response in
                #expect(response.status == .forbidden)
                let codeValue = try json(response.body)["code"] as? String
                #expect(codeValue == "untrusted_proxy")
            }
        }
    }

    @Test func malformedPathsAndBrowsersOverHTTP() async throws {
        let fixture = try HostFixture(corsOrigins: ["https://console.example.com"])
        let token = try fixture.token().token
        try await fixture.application().test(.router) { client in
            for path in ["/api/%2e%2e%2Fkeys", "/api/who%00ami", "/api/%zz"] {
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                    #expect(response.status == .badRequest, "\(path)")
                    let codeValue = try json(response.body)["code"] as? String
                    #expect(codeValue == "invalid_path")
                }
            }
            let preflight: HTTPFields = [
                HTTPField.Name("Origin")!: "https://console.example.com", HTTPField.Name("Access-Control-Request-Method")!: "POST",
                HTTPField.Name("Access-Control-Request-Headers")!: "authorization, content-type",
            ]
            try await client.execute(uri: "/api/agents", method: .options, headers: preflight) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "https://console.example.com")
            }
            try await client.execute(
                uri: "/api/whoami", method: .get,
                headers: [.authorization: "Bearer \(token)", HTTPField.Name("Origin")!: "https://console.example.com"]
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("Access-Control-Allow-Origin")!] == "https://console.example.com")
                #expect(response.headers[HTTPField.Name("Access-Control-Expose-Headers")!]?.contains("Retry-After") == true)
            }
        }
        #expect(throws: AgentHostError.self) { try HostFixture(corsOrigins: ["*.example.com"]) }
    }

    @Test func policyTestAndExplainCommands() throws {
        let report = try AgentHostCLI.testPolicy(policyPath: nil, casesPath: nil)
        #expect(report.passed)
        #expect(report.lines.last?.hasSuffix("0 failed") == true)
        #expect(report.lines.dropLast().allSatisfy { $0.hasPrefix("PASS ") })

        let directory = try TemporaryDirectory()
        let policyPath = directory.path + "/policy.yaml"
        let casesPath = directory.path + "/cases.yaml"
        try DefaultPolicy.text.write(toFile: policyPath, atomically: true, encoding: .utf8)
        // One wrong expectation: the run reports it and fails.
        try """
        cases:
          - {name: developer creates agents, principal: {agent: d, role: developer}, request: POST /api/agents, expect: permit}
          - {name: ceo creates agents, principal: {agent: c, role: ceo}, request: POST /api/agents, expect: permit, rule: admins-create-agents}
        """.write(toFile: casesPath, atomically: true, encoding: .utf8)
        let failing = try AgentHostCLI.testPolicy(policyPath: policyPath, casesPath: casesPath)
        #expect(!failing.passed)
        #expect(failing.lines.first?.hasPrefix("FAIL developer creates agents") == true)
        #expect(failing.lines.last == "1 passed, 1 failed")
        #expect(throws: AgentHostError.self) { try AgentHostCLI.testPolicy(policyPath: policyPath, casesPath: nil) }

        let explained = try AgentHostCLI.explainPolicy(policyPath: nil, principal: "role=member,agent=x", request: "POST /api/agents")
        #expect(explained.first == "DENY")
        #expect(explained.contains("action: agents.create"))
        let permitted = try AgentHostCLI.explainPolicy(policyPath: policyPath, principal: "role=ceo,agent=c", request: "POST /api/agents")
        #expect(permitted.first == "PERMIT" && permitted.contains("rules: admins-create-agents"))
        #expect(throws: AgentHostError.self) {
            try AgentHostCLI.explainPolicy(policyPath: nil, principal: "boss", request: "POST /api/agents")
        }
        #expect(throws: AgentHostError.self) {
            try AgentHostCLI.explainPolicy(policyPath: nil, principal: "role=ceo", request: "/api/agents")
        }

        // The loopback condition holds for a local client only, as serve decides it: a proxy on this
        // host, trusted or naming another hop, is not local.
        try """
        version: 1
        actions: [debug.read]
        routes: [{id: debug, method: GET, path: /debug, action: debug.read}]
        rules: [{id: local-debug, effect: permit, actions: [debug.read], conditions: [loopback]}]
        """.write(toFile: policyPath, atomically: true, encoding: .utf8)
        func explain(peer: String?, headers: [HeaderField] = [], proxies: [String] = []) throws -> [String] {
            try AgentHostCLI.explainPolicy(
                policyPath: policyPath, principal: "role=member,agent=x", request: "GET /debug", peer: peer, headers: headers,
                trustedProxies: proxies.compactMap { IPNetwork($0) }
            )
        }
        let local = try explain(peer: "127.0.0.1")
        #expect(local.first == "PERMIT" && local.contains("client: local"))
        for (peer, headers, proxies) in [
            (nil, [], []), ("10.0.0.9", [], []), ("127.0.0.1", [HeaderField(name: "X-Forwarded-For", value: "203.0.113.9")], []),
            ("127.0.0.1", [], ["127.0.0.1"]), ("::1", [HeaderField(name: "Forwarded", value: "for=203.0.113.9")], ["10.0.0.0/8"]),
        ] as [(String?, [HeaderField], [String])] {
            let decided = try explain(peer: peer, headers: headers, proxies: proxies)
            #expect(decided.first == "DENY" && decided.contains("client: not local"), "\(peer ?? "no peer") \(headers) \(proxies)")
        }

        // A broken policy file is a load error naming the line.
        try "version: 1\nroles: {boss: emperor}\n".write(toFile: policyPath, atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyLoadError.self) { try AgentHostCLI.testPolicy(policyPath: policyPath, casesPath: casesPath) }
        #expect(error?.line == 2)
    }
}
