import Foundation
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// Users, API keys, devices and setup tokens, on SQLite and on PostgreSQL.
struct AccountStoreTests {
    @Test(arguments: Backend.enabled)
    func usersAreCreatedOnceAndHashesChangeOnlyAsExpected(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        let alice = UserRecord(username: "alice", role: "member", passwordHash: "$argon2id$a", createdAt: 10, sessionsNotBefore: 10)
        #expect(try await store.createUser(alice))
        #expect(
            try await store.createUser(
                UserRecord(username: "alice", role: "owner", passwordHash: "$argon2id$x", createdAt: 11, sessionsNotBefore: 11)) == false)
        // A rehash that lost the race with a password change does not undo it.
        #expect(try await store.setPassword(username: "alice", hash: "$argon2id$b", at: 20))
        #expect(try await store.replacePasswordHash(username: "alice", expected: "$argon2id$a", with: "$argon2id$a2") == false)
        #expect(try await store.replacePasswordHash(username: "alice", expected: "$argon2id$b", with: "$argon2id$b2"))
        #expect(try await store.setPassword(username: "nobody", hash: "$argon2id$c", at: 20) == false)
        try await store.close()

        let again = try await reopen()
        let stored = try #require(try await again.user(named: "alice"))
        #expect(stored.role == "member" && stored.passwordHash == "$argon2id$b2" && stored.sessionsNotBefore == 20)
        #expect(!stored.description.contains("argon2id"))
        #expect(try await again.users().map(\.username) == ["alice"])
        #expect(try await again.deleteUser(named: "alice"))
        #expect(try await again.deleteUser(named: "alice") == false)
        #expect(try await again.user(named: "alice") == nil)
        try await again.close()
    }

    @Test(arguments: Backend.enabled)
    func accessKeysRoundTripAndAreDeletedExactlyOnce(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        let digest = [UInt8](repeating: 7, count: 32)
        let records = [
            AccessKeyRecord(
                id: "ahk_1", kind: .apiKey, name: "ci", role: "member", trust: nil, digest: digest, createdBy: "key:x", createdAt: 1),
            AccessKeyRecord(
                id: "ahd_1", kind: .device, name: "kiosk", role: "viewer", trust: .verified, digest: digest, createdBy: "a", createdAt: 2),
            AccessKeyRecord(
                id: "ahs_1", kind: .setup, name: "onboarding", role: "owner", trust: nil, digest: digest, createdBy: "cli", createdAt: 3),
        ]
        for record in records { try await store.putAccessKey(record) }
        await #expect(throws: (any Error).self) { try await store.putAccessKey(records[0]) }
        try await store.close()

        let again = try await reopen()
        #expect(try await again.accessKeys() == records.sorted { $0.id < $1.id })
        // Two concurrent uses of one setup token: exactly one wins.
        async let first = again.deleteAccessKey(id: "ahs_1")
        async let second = again.deleteAccessKey(id: "ahs_1")
        let outcomes = try await [first, second]
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(try await again.accessKeys().map(\.id) == ["ahd_1", "ahk_1"])
        try await again.close()
    }

    @Test(arguments: Backend.enabled)
    func insertWritesOnlyWhenTheNameIsFree(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        let vault = Vault(keyring: try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1))
        func row(_ id: String, _ secret: String) throws -> VaultRecordRow {
            let identity = RecordIdentity(owner: "agenthost", recordID: id, name: "pepper")
            return VaultRecordRow(
                id: id, owner: "agenthost", name: "pepper", sealed: try vault.seal(SecureBytes(copying: Array(secret.utf8)), for: identity),
                updatedAt: 1
            )
        }
        #expect(try await store.insert(row("r1", "first")))
        #expect(try await store.insert(row("r2", "second")) == false)
        let stored = try #require(try await store.record(owner: "agenthost", name: "pepper"))
        #expect(stored.id == "r1")
        #expect(try vault.withSecret(in: stored.sealed, for: stored.identity) { String(decoding: $0, as: UTF8.self) } == "first")
        try await store.close()
    }
}
