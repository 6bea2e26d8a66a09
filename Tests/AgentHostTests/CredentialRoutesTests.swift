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

/// Project git tokens, users' provider keys, grants and the release of an agent's environment, on
/// SQLite and on PostgreSQL.
struct CredentialRoutesTests {
    func headers(_ token: String, json: Bool = true) -> HTTPFields {
        json ? [.authorization: "Bearer \(token)", .contentType: "application/json"] : [.authorization: "Bearer \(token)"]
    }

    func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

    @Test(arguments: Backend.enabled)
    func projectGitTokenIsSetNeverShownAndDeleted(backend: Backend) async throws {
        let (fixture, store) = try await HostFixture.withVault(backend)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let member = try fixture.token(agent: "dev", role: "member").token
        let secret = "ghp_ProjectToken0123456789"
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/projects/p1/git-token", method: .put, headers: headers(admin),
                body: ByteBuffer(string: #"{"token": "\#(secret)"}"#)
            ) { response in
                #expect(response.status == .noContent)
            }
            for token in [admin, member] {
                try await client.execute(uri: "/api/projects/p1", method: .get, headers: headers(token, json: false)) { response in
                    #expect(response.status == .ok)
                    let reply = try json(response.body)
                    #expect(reply["project"] as? String == "p1" && reply["has_git_token"] as? Bool == true)
                    #expect(!text(response.body).contains(secret))
                }
            }
            // Members see whether it is set, but do not set it.
            try await client.execute(
                uri: "/api/projects/p1/git-token", method: .put, headers: headers(member), body: ByteBuffer(string: #"{"token": "x"}"#)
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/projects/p1/git-token", method: .delete, headers: headers(admin, json: false)) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/projects/p1", method: .get, headers: headers(member, json: false)) { response in
                let reply = try json(response.body)
                #expect(reply["has_git_token"] as? Bool == false && reply["git_token_updated_at"] is NSNull)
            }
            try await client.execute(uri: "/api/projects/p1/git-token", method: .delete, headers: headers(admin, json: false)) { response in
                #expect(response.status == .notFound)
                let value = try json(response.body)["code"] as? String
                #expect(value == "not_set")
            }
        }
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func usersProviderKeys(backend: Backend) async throws {
        let (fixture, store) = try await HostFixture.withVault(backend)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/users/alice/keys/openai", method: .get, headers: headers(admin, json: false)) { response in
                let reply = try json(response.body)
                #expect(reply["provider"] as? String == "openai" && reply["has_key"] as? Bool == false && reply["updated_at"] is NSNull)
            }
            try await client.execute(
                uri: "/api/users/alice/keys/openai", method: .put, headers: headers(admin),
                body: ByteBuffer(string: #"{"key": "sk-proj-abc"}"#)
            ) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/users/alice/keys/openai", method: .get, headers: headers(admin, json: false)) { response in
                let reply = try json(response.body)
                #expect(reply["has_key"] as? Bool == true && reply["updated_at"] as? String == "2027-01-15T08:00:00Z")
                #expect(!text(response.body).contains("sk-proj"))
            }
            // Bob's key is another record.
            try await client.execute(uri: "/api/users/bob/keys/openai", method: .get, headers: headers(admin, json: false)) { response in
                let value = try json(response.body)["has_key"] as? Bool
                #expect(value == false)
            }
            try await client.execute(uri: "/api/users/alice/keys/openai", method: .delete, headers: headers(admin, json: false)) {
                response in
                #expect(response.status == .noContent)
            }
        }
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func grantedSecretsAreReleasedToTheirAgentOnly(backend: Backend) async throws {
        let (fixture, store) = try await HostFixture.withVault(backend)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let agent = try fixture.token(agent: "builder-7", role: "developer").token
        let other = try fixture.token(agent: "builder-8", role: "developer").token
        // Quotes, a backslash, a control character and non-ASCII text survive the JSON round trip.
        let secret = "ghp_\"quoted\"\\slash\u{01}é"
        let body = try String(decoding: JSONSerialization.data(withJSONObject: ["token": secret]), as: UTF8.self)
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/projects/p1/git-token", method: .put, headers: headers(admin), body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .noContent)
            }
            for (env, path) in [("GITHUB_TOKEN", "projects/p1/git-token"), ("OPENAI_API_KEY", "users/alice/keys/openai")] {
                try await client.execute(
                    uri: "/api/agents/builder-7/grants", method: .post, headers: headers(admin),
                    body: ByteBuffer(string: #"{"secret": "\#(path)", "env": "\#(env)"}"#)
                ) { response in
                    #expect(response.status == .created)
                }
            }
            try await client.execute(uri: "/api/agents/builder-7/grants", method: .get, headers: headers(admin, json: false)) { response in
                let grants = try #require(try json(response.body)["grants"] as? [[String: Any]])
                #expect(grants.compactMap { $0["env"] as? String } == ["GITHUB_TOKEN", "OPENAI_API_KEY"])
                #expect(!text(response.body).contains("ghp_"))
            }
            for token in [agent, admin] {
                try await client.execute(uri: "/v1/secrets/agents/builder-7/env", method: .get, headers: headers(token, json: false)) {
                    response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.cacheControl] == "no-store")
                    let reply = try json(response.body)
                    #expect((reply["env"] as? [String: String]) == ["GITHUB_TOKEN": secret])
                    #expect((reply["missing"] as? [String]) == ["OPENAI_API_KEY"])
                    #expect((reply["unreadable"] as? [String]) == [])
                }
            }
            // Another agent, or nobody, gets nothing.
            try await client.execute(uri: "/v1/secrets/agents/builder-7/env", method: .get, headers: headers(other, json: false)) {
                response in
                #expect(response.status == .forbidden)
                #expect(!text(response.body).contains("ghp_"))
            }
            try await client.execute(uri: "/v1/secrets/agents/builder-7/env", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            // An agent cannot grant itself more.
            try await client.execute(
                uri: "/api/agents/builder-7/grants", method: .post, headers: headers(agent),
                body: ByteBuffer(string: #"{"secret": "projects/p2/git-token", "env": "X"}"#)
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/api/agents/builder-7/grants/GITHUB_TOKEN", method: .delete, headers: headers(admin, json: false)
            ) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/v1/secrets/agents/builder-7/env", method: .get, headers: headers(agent, json: false)) {
                response in
                let value = try json(response.body)["env"] as? [String: String]
                #expect(value == [:])
            }
        }
        try await store.close()
    }

    @Test func headerTrustIdentitiesGetNoSecrets() async throws {
        let (fixture, store) = try await HostFixture.withVault(mode: .headerTrust)
        try await fixture.components.credentials?.grant(
            agent: AgentID("builder-7"), secret: SecretPath("projects/p1/git-token"), env: "GITHUB_TOKEN")
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/secrets/agents/builder-7/env", method: .get,
                headers: [HTTPField.Name("X-Agent-ID")!: "builder-7", HTTPField.Name("X-Agent-Role")!: "admin"]
            ) { response in
                #expect(response.status == .forbidden)
                let value = try json(response.body)["code"] as? String
                #expect(value == "token_required")
            }
        }
        try await store.close()
    }

    @Test func badInputGetsAClearProblemWithoutTheSecret() async throws {
        let (fixture, store) = try await HostFixture.withVault()
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let secret = "ghp_MustNeverBeEchoed"
        try await fixture.application().test(.router) { client in
            func expect(
                _ method: HTTPRequest.Method, _ uri: String, _ body: String?, json: Bool = true, status: HTTPResponse.Status, code: String
            ) async throws {
                try await client.execute(
                    uri: uri, method: method, headers: headers(admin, json: json), body: body.map { ByteBuffer(string: $0) }
                ) { response in
                    #expect(response.status == status, "\(method) \(uri)")
                    let reply = text(response.body)
                    #expect(reply.contains(#""code":"\#(code)""#), "\(method) \(uri): \(reply)")
                    #expect(!reply.contains(secret))
                }
            }
            try await expect(.put, "/api/projects/p.1/git-token", #"{"token": "\#(secret)"}"#, status: .badRequest, code: "invalid_name")
            try await expect(.put, "/api/users/alice/keys/open%20ai", #"{"key": "\#(secret)"}"#, status: .badRequest, code: "invalid_name")
            try await expect(
                .put, "/api/projects/p1/git-token", #"{"token": "\#(secret)"}"#, json: false, status: .unsupportedMediaType,
                code: "unsupported_media_type")
            try await expect(.put, "/api/projects/p1/git-token", #"{"tokn": "\#(secret)"}"#, status: .badRequest, code: "validation_failed")
            try await expect(.put, "/api/projects/p1/git-token", #"{"token": ""}"#, status: .badRequest, code: "validation_failed")
            try await expect(
                .put, "/api/projects/p1/git-token", #"{"token": "\#(secret)\u0000"}"#, status: .badRequest, code: "invalid_secret")
            let huge = String(repeating: "x", count: Vault.maximumSecretByteCount + 1)
            try await expect(.put, "/api/projects/p1/git-token", #"{"token": "\#(huge)"}"#, status: .badRequest, code: "validation_failed")
            try await expect(
                .post, "/api/agents/builder-7/grants", #"{"secret": "../etc/passwd", "env": "X"}"#, status: .badRequest,
                code: "invalid_secret_path")
            for env in ["PATH", "LD_PRELOAD", "lower", "1ABC", "A-B"] {
                try await expect(
                    .post, "/api/agents/builder-7/grants", #"{"secret": "projects/p1/git-token", "env": "\#(env)"}"#, status: .badRequest,
                    code: "invalid_env")
            }
            try await expect(.delete, "/api/agents/builder-7/grants/NOPE", nil, json: false, status: .notFound, code: "not_found")
        }
        // Nothing stored was lost or half-written.
        #expect(try await store.records(owner: nil).isEmpty)
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func aSwappedOrDamagedRecordIsReportedAndNothingElseIsLost(backend: Backend) async throws {
        let (fixture, store) = try await HostFixture.withVault(backend)
        let credentials = try #require(fixture.components.credentials)
        let agent = try fixture.token(agent: "builder-7", role: "developer").token
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        for project in ["p1", "p2", "p3"] {
            try await credentials.set(try .projectGitToken(project), secret: SecureBytes(copying: Array("ghp_\(project)".utf8)))
            try await credentials.grant(
                agent: AgentID("builder-7"), secret: try .projectGitToken(project), env: "TOKEN_\(project.uppercased())")
        }
        // Someone with database access copies p2's ciphertext into p1's row, and truncates p3's.
        let one = try #require(try await store.record(owner: "projects/p1", name: "git-token"))
        let two = try #require(try await store.record(owner: "projects/p2", name: "git-token"))
        let three = try #require(try await store.record(owner: "projects/p3", name: "git-token"))
        try await store.put(VaultRecordRow(id: one.id, owner: one.owner, name: one.name, sealed: two.sealed, updatedAt: one.updatedAt))
        let truncated = try SealedRecord(bytes: Array(three.sealed.bytes.dropLast(1)))
        try await store.put(
            VaultRecordRow(id: three.id, owner: three.owner, name: three.name, sealed: truncated, updatedAt: three.updatedAt))

        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/v1/secrets/agents/builder-7/env", method: .get, headers: headers(agent, json: false)) {
                response in
                #expect(response.status == .ok)
                let reply = try json(response.body)
                #expect((reply["env"] as? [String: String]) == ["TOKEN_P2": "ghp_p2"])
                #expect((reply["unreadable"] as? [String]) == ["TOKEN_P1", "TOKEN_P3"])
                #expect(!text(response.body).contains("ghp_p1"))
            }
            // Setting it again repairs it.
            try await client.execute(
                uri: "/api/projects/p1/git-token", method: .put, headers: headers(admin),
                body: ByteBuffer(string: #"{"token": "ghp_p1_again"}"#)
            ) { response in
                #expect(response.status == .noContent)
            }
        }
        let report = try await credentials.verifyAll()
        #expect(report.checked == 3 && report.failures.map(\.path) == ["projects/p3/git-token"])
        #expect(report.failures.first?.id == three.id && report.failures.first?.code == "record_mismatch")
        try await store.close()
    }

    @Test func anUnreachableStoreIsA503AndNothingIsClaimed() async throws {
        let (fixture, store) = try await HostFixture.withVault()
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        try await store.close()
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/projects/p1/git-token", method: .put, headers: headers(admin),
                body: ByteBuffer(string: #"{"token": "ghp_down"}"#)
            ) { response in
                #expect(response.status == .serviceUnavailable)
                let value = try json(response.body)["code"] as? String
                #expect(value == "store_unavailable")
                #expect(!text(response.body).contains("ghp_down"))
            }
        }
    }

    @Test func withoutAStoreTheRoutesSayso() async throws {
        let fixture = try HostFixture()
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/projects/p1", method: .get, headers: headers(admin, json: false)) { response in
                #expect(response.status == .serviceUnavailable)
                let value = try json(response.body)["code"] as? String
                #expect(value == "vault_unavailable")
            }
        }
    }
}
