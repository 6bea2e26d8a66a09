import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// `POST /api/tokens/revoke`: by token id or by agent, durable across a restart, on SQLite and
/// PostgreSQL.
struct RevocationTests {
    func whoami(_ client: some TestClientProtocol, _ token: String) async throws -> (HTTPResponse.Status, String?) {
        try await client.execute(uri: "/api/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
            (response.status, try? json(response.body)["code"] as? String)
        }
    }

    func revoke(_ client: some TestClientProtocol, _ body: String, as token: String) async throws -> (HTTPResponse.Status, String?) {
        try await client.execute(
            uri: "/api/tokens/revoke", method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: ByteBuffer(string: body)
        ) { response in
            (response.status, response.body.readableBytes > 0 ? try? json(response.body)["code"] as? String : nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func revokedTokensStayRevokedAfterARestart(backend: Backend) async throws {
        let (fixture, store) = try await HostFixture.withVault(backend)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let first = try fixture.token(agent: "builder-7")
        let second = try fixture.token(agent: "builder-7")
        let bystander = try fixture.token(agent: "builder-8").token
        try await fixture.application().test(.router) { client in
            let result1 = try await revoke(client, #"{"token_id": "\#(first.claims.tokenID.hex)"}"#, as: admin)
            #expect(result1.0 == .noContent)
            let revoked = try await whoami(client, first.token)
            #expect(revoked.0 == .unauthorized && revoked.1 == "token_revoked")
            let result2 = try await whoami(client, second.token)
            #expect(result2.0 == .ok)

            let result3 = try await revoke(client, #"{"agent_id": "builder-7"}"#, as: admin)
            #expect(result3.0 == .noContent)
            let result4 = try await whoami(client, second.token)
            #expect(result4.1 == "token_revoked")
            let result5 = try await whoami(client, bystander)
            #expect(result5.0 == .ok)
        }
        // A token minted for the agent afterwards works.
        fixture.clock.advance(by: 2)
        let later = try fixture.token(agent: "builder-7").token
        try await fixture.application().test(.router) { client in
            let result6 = try await whoami(client, later)
            #expect(result6.0 == .ok)
        }

        // A new server over the same store (a restart, or a second server) refuses them too.
        let restarted = try HostFixture(revocationStore: store, keyring: fixture.keyring)
        try await restarted.components.refreshRevocations()
        try await restarted.application().test(.router) { client in
            let result7 = try await whoami(client, first.token)
            #expect(result7.1 == "token_revoked")
            let result8 = try await whoami(client, second.token)
            #expect(result8.1 == "token_revoked")
            let result9 = try await whoami(client, bystander)
            #expect(result9.0 == .ok)
        }
        try await store.close()
    }

    @Test func badRevocationsAreRefusedAndChangeNothing() async throws {
        let (fixture, store) = try await HostFixture.withVault()
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let developer = try fixture.token(agent: "builder-7", role: "developer").token
        try await fixture.application().test(.router) { client in
            for body in [#"{}"#, #"{"token_id": "00112233445566778899aabbccddeeff", "agent_id": "a"}"#] {
                let result = try await revoke(client, body, as: admin)
                #expect(result.0 == .badRequest && result.1 == "invalid_request")
            }
            for body in [#"{"token_id": "xyz"}"#, #"{"agent_id": "a b"}"#, #"{"token": "x"}"#] {
                let result = try await revoke(client, body, as: admin)
                #expect(result.0 == .badRequest && result.1 == "validation_failed")
            }
            // A developer cannot revoke anyone, itself included.
            let result10 = try await revoke(client, #"{"agent_id": "builder-8"}"#, as: developer)
            #expect(result10.0 == .forbidden)
            let result11 = try await whoami(client, developer)
            #expect(result11.0 == .ok)
        }
        #expect(try await store.revocations(now: 0) == StoredRevocations())
        try await store.close()
    }

    @Test func aRevocationThatCannotBeStoredDoesNotPretend() async throws {
        let (fixture, store) = try await HostFixture.withVault()
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let target = try fixture.token(agent: "builder-7").token
        try await store.close()
        try await fixture.application().test(.router) { client in
            let result = try await revoke(client, #"{"agent_id": "builder-7"}"#, as: admin)
            #expect(result.0 == .serviceUnavailable && result.1 == "store_unavailable")
            let result12 = try await whoami(client, target)
            #expect(result12.0 == .ok)
        }
    }

    @Test func headerTrustIdentitiesCannotRevoke() async throws {
        let fixture = try HostFixture(mode: .headerTrust)
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/tokens/revoke", method: .post,
                headers: [
                    HTTPField.Name("X-Agent-ID")!: "boss", HTTPField.Name("X-Agent-Role")!: "owner", .contentType: "application/json",
                ],
                body: ByteBuffer(string: #"{"agent_id": "builder-7"}"#)
            ) { response in
                #expect(response.status == .forbidden)
            }
        }
    }
}
