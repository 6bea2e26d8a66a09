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
            // Open without a credential on a loopback address.
            try await client.execute(uri: "/metrics", method: .get) { response in
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

    @Test func onAnOpenAddressMetricsNeedAnAdmin() async throws {
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
}
