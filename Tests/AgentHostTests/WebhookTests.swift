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

/// GitLab and GitHub deliveries: forged, replayed (also after a restart), malformed, oversized,
/// and not configured.
struct WebhookTests {
    static let gitlabSecret = "gitlab-webhook-secret-0123456789"
    static let githubSecret = "github-webhook-secret-0123456789"

    func fixture(_ backend: Backend, store: SQLSecurityStore, clock: ManualTimeSource = ManualTimeSource(1_800_000_000)) throws
        -> HostFixture
    {
        try HostFixture(
            bodyLimit: 4096,
            webhooks: [
                WebhookVerifier(provider: .gitlab, secret: SecureBytes(copying: Self.gitlabSecret.utf8)),
                WebhookVerifier(provider: .github, secret: SecureBytes(copying: Self.githubSecret.utf8)),
            ], webhookStore: store, clock: clock
        )
    }

    func gitlab(token: String? = gitlabSecret, uuid: String? = "8f0b3c2e-1111-4222-8333-944455556666") -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let token { fields[HTTPField.Name("X-Gitlab-Token")!] = token }
        if let uuid { fields[HTTPField.Name("X-Gitlab-Event-UUID")!] = uuid }
        fields[HTTPField.Name("X-Gitlab-Event")!] = "Push Hook"
        return fields
    }

    func github(_ body: String, secret: String = githubSecret, delivery: String = "72d3162e-cc78-11e3-81ab-4c9367dc0958") -> HTTPFields {
        let tag = HMACSHA256Key(copying: Array(secret.utf8)).authenticationCode(for: Array(body.utf8))
        var fields: HTTPFields = [.contentType: "application/json"]
        fields[HTTPField.Name("X-Hub-Signature-256")!] = "sha256=" + tag.map { String(format: "%02x", $0) }.joined()
        fields[HTTPField.Name("X-GitHub-Delivery")!] = delivery
        fields[HTTPField.Name("X-GitHub-Event")!] = "push"
        return fields
    }

    func status(_ response: TestResponse) -> String? { (try? json(response.body))?["status"] as? String }
    func code(_ response: TestResponse) -> String? { (try? json(response.body))?["code"] as? String }

    @Test(arguments: Backend.enabled)
    func gitlabDeliveriesAreAcceptedOnceAndForgeriesUseUpNothing(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        let body = ByteBuffer(string: #"{"object_kind": "push", "ref": "refs/heads/main"}"#)
        try await fixture(backend, store: store).application().test(.router) { client in
            // Forged first: refused, and the id stays unused.
            try await client.execute(
                uri: "/webhooks/gitlab", method: .post, headers: gitlab(token: "wrong-secret-but-long-enough"), body: body
            ) { response in
                #expect(response.status == .unauthorized && code(response) == "invalid_webhook_signature")
            }
            try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: gitlab(token: nil), body: body) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: gitlab(uuid: nil), body: body) { response in
                #expect(response.status == .badRequest && code(response) == "missing_delivery_id")
            }
            try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: gitlab(), body: ByteBuffer(string: "{not json")) {
                response in
                #expect(response.status == .badRequest && code(response) == "invalid_json")
            }
            try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: gitlab(), body: body) { response in
                #expect(response.status == .ok && status(response) == "accepted")
            }
            try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: gitlab(), body: body) { response in
                #expect(response.status == .ok && status(response) == "duplicate")
            }
            // Oversized: cut off by the body cap.
            try await client.execute(
                uri: "/webhooks/gitlab", method: .post, headers: gitlab(uuid: "other"),
                body: ByteBuffer(string: "{\"x\": \"" + String(repeating: "a", count: 5000) + "\"}")
            ) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
        try await store.close()

        // After a restart the id is still known.
        let again = try await reopen()
        try await fixture(backend, store: again).application().test(.router) { client in
            try await client.execute(uri: "/webhooks/gitlab", method: .post, headers: gitlab(), body: body) { response in
                #expect(status(response) == "duplicate")
            }
        }
        #expect(try await again.deliveries(after: 0, limit: 10).map(\.event) == ["Push Hook"])
        try await again.close()
    }

    @Test func githubSignaturesCoverTheWholeBody() async throws {
        let (store, _) = try await Backend.sqlite.open()
        let fixture = try fixture(.sqlite, store: store)
        let admin = try fixture.token(agent: "consumer", role: "member").token
        let body = #"{"ref": "refs/heads/main", "after": "abc"}"#
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/webhooks/github", method: .post, headers: github(body), body: ByteBuffer(string: body + " ")) {
                response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(
                uri: "/webhooks/github", method: .post, headers: github(body, secret: "another-secret-0123456789"),
                body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .unauthorized)
            }
            var noPrefix = github(body)
            noPrefix[HTTPField.Name("X-Hub-Signature-256")!] = String(noPrefix[HTTPField.Name("X-Hub-Signature-256")!]!.dropFirst(7))
            try await client.execute(uri: "/webhooks/github", method: .post, headers: noPrefix, body: ByteBuffer(string: body)) {
                response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/webhooks/github", method: .post, headers: github(body), body: ByteBuffer(string: body)) {
                response in
                #expect(response.status == .ok && status(response) == "accepted")
            }
            try await client.execute(uri: "/webhooks/github", method: .post, headers: github(body), body: ByteBuffer(string: body)) {
                response in
                #expect(status(response) == "duplicate")
            }
            try await client.execute(uri: "/api/webhooks/deliveries", method: .get, headers: [.authorization: "Bearer \(admin)"]) {
                response in
                let deliveries = try #require(try json(response.body)["deliveries"] as? [[String: Any]])
                #expect(
                    deliveries.count == 1 && deliveries[0]["provider"] as? String == "github" && deliveries[0]["event"] as? String == "push"
                )
                #expect((deliveries[0]["body"] as? [String: Any])?["after"] as? String == "abc")
            }
        }
        try await store.close()
    }

    @Test func anUnconfiguredProviderDoesNotExist() async throws {
        let fixture = try HostFixture()
        try await fixture.application().test(.router) { client in
            for provider in ["gitlab", "github"] {
                try await client.execute(uri: "/webhooks/\(provider)", method: .post, headers: gitlab(), body: ByteBuffer(string: "{}")) {
                    response in
                    #expect(response.status == .notFound)
                }
            }
        }
    }

    @Test func expiredIdsAreForgotten() async throws {
        let (store, _) = try await Backend.sqlite.open()
        #expect(try await store.recordDelivery(provider: "gitlab", id: "d1", event: "e", body: "{}", at: 100, expiresAt: 200))
        #expect(try await store.recordDelivery(provider: "gitlab", id: "d1", event: "e", body: "{}", at: 150, expiresAt: 250) == false)
        #expect(try await store.recordDelivery(provider: "github", id: "d1", event: "e", body: "{}", at: 150, expiresAt: 250))
        #expect(try await store.pruneDeliveries(now: 210) == 1)
        #expect(try await store.recordDelivery(provider: "gitlab", id: "d1", event: "e", body: "{}", at: 300, expiresAt: 400))
        try await store.close()
    }
}
