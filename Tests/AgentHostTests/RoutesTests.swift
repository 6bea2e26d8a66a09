import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SecurityCore
import Testing

struct RoutesTests {
    @Test func healthNeedsNoCredential() async throws {
        let fixture = try HostFixture()
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                let parsed = try json(response.body)
                #expect(parsed["status"] as? String == "ok")
            }
        }
    }

    @Test func whoamiWithBearerOrTokenHeader() async throws {
        let fixture = try HostFixture()
        let minted = try fixture.token()
        try await fixture.application().test(.router) { client in
            for headers: HTTPFields in [[.authorization: "Bearer \(minted.token)"], [HTTPField.Name("X-Agent-Token")!: minted.token]] {
                try await client.execute(uri: "/api/whoami", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    let body = try json(response.body)
                    #expect(body["agent_id"] as? String == "builder-7")
                    #expect(body["role"] as? String == "developer")
                    #expect(body["team"] as? String == "core")
                    #expect(body["token_id"] as? String == minted.claims.tokenID.hex)
                    #expect(body["expires_at"] as? String == "2027-01-15T20:00:00Z")
                    #expect(body["authenticated_by"] as? String == "agent-token")
                }
            }
        }
    }

    @Test func missingCredentialIsAProblem() async throws {
        let fixture = try HostFixture()
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/whoami", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"agenthost\"")
                let parsed = try json(response.body)
                #expect(parsed["code"] as? String == "missing_credential")
            }
        }
    }

    @Test func badTokensAndHeadersGet401NeverA500() async throws {
        // No rate limits: this sends far more failed authentications than the lockout allows.
        let fixture = try HostFixture(scopes: [])
        let valid = try fixture.token().token
        var tampered = Array(valid)
        tampered[10] = tampered[10] == "A" ? "B" : "A"
        let values = [
            "", " ", String(repeating: "x", count: 10_240), "ah1." + String(repeating: "Q", count: 12_000),
            "ah1.ñandú.café", String(valid.dropLast(7)), String(tampered), valid + valid, "ah1.%00.%00",
        ]
        try await fixture.application().test(.router) { client in
            for value in values {
                for name in ["X-Agent-Token", "Authorization"] {
                    let headerValue = name == "Authorization" ? "Bearer \(value)" : value
                    try await client.execute(uri: "/api/whoami", method: .get, headers: [HTTPField.Name(name)!: headerValue]) { response in
                        #expect(response.status == .unauthorized, "\(name): \(value.prefix(20))")
                        #expect(response.headers[.contentType] == "application/problem+json")
                        let body = try json(response.body)
                        #expect(body["status"] as? Int == 401)
                        if value.count > 5 { #expect(!String(buffer: response.body).contains(value)) }
                    }
                }
            }
            // Identity headers that disagree with the token.
            try await client.execute(
                uri: "/api/whoami", method: .get,
                headers: [.authorization: "Bearer \(valid)", HTTPField.Name("X-Agent-Role")!: "owner"]
            ) { response in
                #expect(response.status == .unauthorized)
                let parsed = try json(response.body)
                #expect(parsed["code"] as? String == "identity_mismatch")
            }
        }
    }

    @Test func headerTrustMode() async throws {
        let fixture = try HostFixture(mode: .headerTrust)
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/whoami", method: .get,
                headers: [
                    HTTPField.Name("X-Agent-ID")!: "ceo-1", HTTPField.Name("X-Agent-Role")!: "ceo", HTTPField.Name("X-Agent-Team")!: "exec",
                ]
            ) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["agent_id"] as? String == "ceo-1" && body["authenticated_by"] as? String == "header-trust")
                #expect(body["token_id"] is NSNull)
            }
            try await client.execute(uri: "/api/whoami", method: .get, headers: [HTTPField.Name("X-Agent-Token")!: "ah1.forged"]) {
                response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func liveServerOnLoopback() async throws {
        let fixture = try HostFixture()
        let token = try fixture.token().token
        try await fixture.application().test(.live) { client in
            try await client.execute(uri: "/api/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
                let parsed = try json(response.body)
                #expect(parsed["agent_id"] as? String == "builder-7")
            }
            try await client.execute(uri: "/api/whoami", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }
}
