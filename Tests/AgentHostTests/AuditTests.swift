import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
@testable import SecurityStore
import SQLKit
import StoreTestSupport
import Testing

/// What AgentHost writes to the audit log, how a flood is aggregated, how it is read, and that
/// tampering is found.
struct AuditTests {
    func headers(_ token: String?, json: Bool = false) -> HTTPFields {
        var fields: HTTPFields = json ? [.contentType: "application/json"] : [:]
        if let token { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    @Test(arguments: Backend.enabled)
    func eventsAreRecordedAFloodIsAggregatedAndAdminsReadThem(backend: Backend) async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts(backend)
        let audit = try #require(fixture.components.audit)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        let member = try fixture.token(agent: "dev", role: "member").token
        try await fixture.application().test(.router) { client in
            // 40 bad tokens: one record, counted.
            for _ in 0..<40 {
                try await client.execute(uri: "/api/whoami", method: .get, headers: headers("ah1.forged")) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            try await client.execute(uri: "/api/keys", method: .get, headers: headers(member)) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/api/agents", method: .post, headers: headers(admin, json: true),
                body: ByteBuffer(string: #"{"agent_id": "worker-1", "role": "developer"}"#)
            ) { response in
                #expect(response.status == .created)
            }
            try await audit.flush()
            let records = try await store.auditRecords(after: 0, limit: 100, actor: nil, action: nil)
            let failures = try #require(records.first(where: { $0.event.action == "auth.failed" }))
            #expect(
                failures.event.details["count"] == "40" && failures.event.rule == "invalid_token" && failures.event.actor == "anonymous")
            #expect(failures.event.target == "GET /api/whoami")
            // The first and the last request of the aggregate are named.
            let last = try #require(failures.event.details["last_request_id"])
            #expect(!failures.event.requestID.isEmpty && !last.isEmpty && last != failures.event.requestID)
            // The actor of a denial is the verified principal, never a header.
            let denial = try #require(records.first(where: { $0.event.action == "policy.denied" }))
            // Its rule is the deciding one: here nothing permits, so the default deny.
            #expect(denial.event.actor == "dev" && denial.event.rule == "default-deny" && denial.event.details["code"] == "forbidden")
            let minted = try #require(records.first(where: { $0.event.action == "token.minted" }))
            #expect(minted.event.actor == "orchestrator" && minted.event.target == "worker-1" && !minted.event.requestID.isEmpty)
            #expect(!records.contains { "\($0.event)".contains(admin) })

            // Read through the API: admins only, with filters.
            try await client.execute(uri: "/api/audit?action=token.minted", method: .get, headers: headers(admin)) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                let listed = try #require(body["records"] as? [[String: Any]])
                #expect(listed.count == 1 && listed[0]["actor"] as? String == "orchestrator" && body["next"] is NSNull)
                // RFC 3339 in UTC, with milliseconds: the time had lost its Z (found by scripts/api-fuzz).
                let time = try #require(listed[0]["time"] as? String)
                #expect(time.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/#) != nil, "\(time)")
            }
            try await client.execute(uri: "/api/audit?limit=501", method: .get, headers: headers(admin)) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/audit", method: .get, headers: headers(member)) { response in
                #expect(response.status == .forbidden)
            }
        }
        let verified = try await audit.trail.verify()
        #expect(verified.problem == nil && verified.verified >= 3)
        try await store.close()
    }

    @Test func theQueueIsBoundedAndWhatDoesNotFitIsCounted() async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts()
        let recorder = AuditRecorder(trail: try #require(fixture.components.audit).trail, capacity: 3)
        for index in 0..<5 { recorder.record(AuditEvent(time: Int64(index), actor: "a", action: "test")) }
        for client in 0..<5 {
            recorder.recordRefusal(
                action: "auth.failed", code: "invalid_token", client: "10.0.0.\(client)", actor: "anonymous", target: "/")
        }
        try await recorder.flush()
        let records = try await store.auditRecords(after: 0, limit: 100, actor: nil, action: nil)
        #expect(records.filter { $0.event.action == "test" }.count == 3)
        #expect(records.filter { $0.event.action == "auth.failed" }.count == 3)
        #expect(records.last?.event.action == "audit.dropped" && records.last?.event.details["count"] == "4")
        try await store.close()
    }

    @Test func verifyNamesTheRecordThatWasChanged() async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts()
        let trail = try #require(fixture.components.audit).trail
        for index in 1...12 {
            try await trail.append(AuditEvent(time: Int64(index), actor: "cli", action: "user.added", target: "user:u\(index)"))
        }
        #expect(try await store.auditCheckpoints().map(\.head.sequence) == [5, 10])
        #expect(try await trail.verify().problem == nil)
        try await store.database.raw("UPDATE audit_log SET target = 'user:someone' WHERE sequence = 7").run()
        #expect(try await trail.verify().problem == .altered(sequence: 7))
        try await store.database.raw("DELETE FROM audit_log WHERE sequence >= 7").run()
        #expect(try await trail.verify().problem == .truncated(checkpoint: 10, head: 6))
        try await store.close()
    }
}

/// The server's redactor learns the secrets the vault hands out.
struct SecretRegistrationTests {
    @Test func secretsSetOrReleasedAreRegisteredWithTheRedactor() async throws {
        let (store, _) = try await Backend.sqlite.open()
        let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
        let plain = try await CredentialService.open(keys: keys, store: store)
        try await plain.set(try SecretPath("projects/p1/git-token"), secret: SecureBytes(copying: Array("ghp-like-but-not-a-shape-1".utf8)))
        try await plain.grant(agent: AgentID("builder-7"), secret: SecretPath("projects/p1/git-token"), env: "GIT_TOKEN")

        let redactor = SecretRedactor()
        let watched = try await CredentialService.open(keys: keys, store: store, redactor: redactor)
        #expect(redactor.redact("ghp-like-but-not-a-shape-1") == "ghp-like-but-not-a-shape-1")
        var body: [UInt8] = []
        _ = try await watched.release(agent: AgentID("builder-7"), into: &body)
        #expect(redactor.redact("token=ghp-like-but-not-a-shape-1") == "token=[REDACTED]")
        try await watched.set(try SecretPath("users/alice/keys/openai"), secret: SecureBytes(copying: Array("sk-proj-another-one".utf8)))
        #expect(redactor.redact("sk-proj-another-one") == "[REDACTED]")
        try await store.close()
    }
}
