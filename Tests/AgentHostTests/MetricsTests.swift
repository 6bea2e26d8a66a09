import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
import Testing

/// `GET /metrics`: what it counts, and who may read it.
struct MetricsTests {
    @Test func outcomesFailuresAndRefusalsAreCounted() async throws {
        let scope = try RateLimitScope(name: "tight", limit: 2, period: .seconds(60), routes: [#require(RouteMatch("/api/*"))])
        let fixture = try HostFixture(scopes: [scope])
        let token = try fixture.token().token
        let admin = try fixture.token(agent: "ops", role: "admin").token
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/whoami", method: .get, headers: [.authorization: "Bearer ah1.nonsense"]) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .tooManyRequests)
            }
            // The router test has no peer: not local, so an admin reads it.
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                // The whoami, and this request itself.
                #expect(text.contains(#"agenthost_requests_total{outcome="allowed"} 2"#), "\(text)")
                #expect(text.contains(#"agenthost_auth_failures_total{reason="invalid_token"} 1"#))
                #expect(text.contains(#"agenthost_rate_limited_total{scope="tight"} 1"#))
                #expect(text.contains(#"status="401""#) && text.contains(#"status="429""#))
                #expect(!text.contains(token))
            }
        }
    }

    @Test func fromAfarMetricsNeedAnAdmin() async throws {
        let fixture = try HostFixture(host: "0.0.0.0")
        let admin = try fixture.token(agent: "ops", role: "admin").token
        let member = try fixture.token(agent: "dev", role: "member").token
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(member)"]) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    /// Open without a credential only to a local client: not through a proxy on this host, whether
    /// or not it is configured as trusted, and not to a request that names another hop. Served by
    /// the real server, so the peer is 127.0.0.1.
    @Test(arguments: [false, true])
    func onlyALocalClientReadsMetricsWithoutACredential(proxyIsTrusted: Bool) async throws {
        let fixture = try HostFixture(trustedProxies: proxyIsTrusted ? ["127.0.0.1"] : [])
        let admin = try fixture.token(agent: "ops", role: "admin").token
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == (proxyIsTrusted ? .unauthorized : .ok))
            }
            for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
                let value = header == "Forwarded" ? "for=203.0.113.9" : "203.0.113.9"
                try await client.execute(uri: "/metrics", method: .get, headers: [HTTPField.Name(header)!: value]) { response in
                    #expect(response.status == .unauthorized, "\(header)")
                }
            }
            try await client.execute(
                uri: "/metrics", method: .get,
                headers: [HTTPField.Name("X-Forwarded-For")!: "203.0.113.9", .authorization: "Bearer \(admin)"]
            ) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func metricsPublicOpensThemToEveryone() async throws {
        let fixture = try HostFixture(trustedProxies: ["127.0.0.1"]) { $0.metricsPublic = true }
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: [HTTPField.Name("X-Forwarded-For")!: "203.0.113.9"]) {
                response in
                #expect(response.status == .ok)
            }
        }
    }
}
