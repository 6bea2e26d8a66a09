import Foundation
import SecurityCore
import Logging
import SQLKit
@testable import SecurityStore
import StoreTestSupport
import Testing

/// The schema version this build migrates to.
let latestSchema = SQLSecurityStore.migrations(for: .sqlite).last!.version

struct VaultStoreTests {
    let directory: String
    let vault: Vault

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("agenthost-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = VaultKey(version: 1, secret: SecureBytes(copying: [UInt8](repeating: 3, count: 32)))
        vault = Vault(keyring: try VaultKeyring(keys: [key], primaryVersion: 1))
    }

    func row(owner: String = "project:p1", name: String = "git-token", secret: String, id: String = UUID().uuidString) throws
        -> VaultRecordRow
    {
        let identity = RecordIdentity(owner: owner, recordID: id, name: name)
        let sealed = try vault.seal(SecureBytes(copying: Array(secret.utf8)), for: identity)
        return VaultRecordRow(id: id, owner: owner, name: name, sealed: sealed, updatedAt: 1_800_000_000)
    }

    func secret(of row: VaultRecordRow) throws -> String {
        try vault.withSecret(in: row.sealed, for: row.identity) { String(decoding: $0, as: UTF8.self) }
    }

    @Test func putGetReplaceDelete() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/agenthost.sqlite"
        let store = try await SQLSecurityStore.openSQLite(path: path)
        #expect(try await store.schemaVersion() == latestSchema)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let first = try row(secret: "ghp_first")
        try await store.put(first)
        let loaded = try #require(try await store.record(owner: "project:p1", name: "git-token"))
        #expect(loaded == first)
        #expect(try secret(of: loaded) == "ghp_first")

        // Setting it again replaces id and bytes together: the new row opens, as itself.
        let second = try row(secret: "ghp_second")
        try await store.put(second)
        let replaced = try #require(try await store.record(owner: "project:p1", name: "git-token"))
        let replacedSecret = try secret(of: replaced)
        #expect(replaced.id == second.id && replacedSecret == "ghp_second")
        #expect(try await store.records(owner: nil).count == 1)

        try await store.put(try row(owner: "project:p2", secret: "ghp_other"))
        #expect(try await store.records(owner: "project:p2").map(\.owner) == ["project:p2"])
        #expect(try await store.delete(owner: "project:p2", name: "git-token"))
        #expect(!(try await store.delete(owner: "project:p2", name: "git-token")))
        #expect(try await store.record(owner: "project:p2", name: "git-token") == nil)
        try await store.close()

        // Reopening runs no migration twice and finds the data.
        let reopened = try await SQLSecurityStore.openSQLite(path: path)
        #expect(try await reopened.schemaVersion() == latestSchema)
        #expect(try await reopened.record(owner: "project:p1", name: "git-token")?.id == second.id)
        try await reopened.close()

        // The file holds no plaintext secret.
        let bytes =
            try Data(contentsOf: URL(fileURLWithPath: path)) + ((try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data())
        #expect(bytes.range(of: Data("ghp_".utf8)) == nil)
    }

    @Test(arguments: Backend.enabled)
    func replaceOnlyWhenUnchanged(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        let original = try row(secret: "ghp_one")
        try await store.put(original)
        let resealed = try vault.reseal(original.sealed, for: original.identity)
        #expect(try await store.replace(id: original.id, expected: original.sealed, with: resealed, now: 1_800_000_100))
        // A second replace expecting the old bytes finds them gone and changes nothing.
        #expect(!(try await store.replace(id: original.id, expected: original.sealed, with: original.sealed, now: 1_800_000_200)))
        let stored = try #require(try await store.record(owner: "project:p1", name: "git-token"))
        #expect(stored.sealed == resealed && stored.updatedAt == 1_800_000_100)
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func batchesWalkEveryRecordInIdOrder(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        for index in 0..<25 {
            try await store.put(
                try row(owner: "user:u\(index)", name: "provider:openai", secret: "sk-\(index)", id: String(format: "id-%03d", index)))
        }
        var seen = [String]()
        var after: String?
        while true {
            let batch = try await store.records(after: after, limit: 10)
            guard let last = batch.last else { break }
            seen += batch.map(\.id)
            after = last.id
        }
        #expect(seen == (0..<25).map { String(format: "id-%03d", $0) })
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func aSwappedRowIsReportedNotOpened(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        let mine = try row(owner: "user:alice", secret: "sk-alice")
        let theirs = try row(owner: "user:bob", secret: "sk-bob")
        // Someone with database access copies Bob's bytes into Alice's row.
        try await store.put(VaultRecordRow(id: mine.id, owner: mine.owner, name: mine.name, sealed: theirs.sealed, updatedAt: 0))
        let stored = try #require(try await store.record(owner: "user:alice", name: "git-token"))
        let error = #expect(throws: VaultError.self) { try secret(of: stored) }
        #expect(error?.code == .recordMismatch)
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func crudAndReopen(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        #expect(try await store.schemaVersion() == latestSchema)
        try await store.put(try row(secret: "ghp_first"))
        let second = try row(secret: "ghp_second")
        try await store.put(second)
        let stored = try #require(try await store.record(owner: "project:p1", name: "git-token"))
        let storedSecret = try secret(of: stored)
        #expect(stored == second && storedSecret == "ghp_second")
        try await store.put(try row(owner: "project:p2", secret: "ghp_other"))
        #expect(try await store.records(owner: nil).map(\.owner) == ["project:p1", "project:p2"])
        #expect(try await store.delete(owner: "project:p2", name: "git-token"))
        #expect(!(try await store.delete(owner: "project:p2", name: "git-token")))
        // A corrupt row is reported as such, not as a crash or somebody else's secret.
        try await store.database.raw(
            """
            INSERT INTO vault_records (id, owner, name, key_version, sealed, updated_at)
            VALUES ('x', 'o', 'n', 1, \(bind: Data([0])), 0)
            """
        ).run()
        let corrupt = await #expect(throws: StoreError.self) { try await store.record(owner: "o", name: "n") }
        #expect(corrupt?.code == .corrupt)
        try await store.close()
        // Two servers starting at once against one database: each migration still runs once.
        async let firstOpen = reopen()
        async let secondOpen = reopen()
        let (one, two) = try await (firstOpen, secondOpen)
        try await one.close()
        try await two.close()
        let again = try await reopen()
        #expect(try await again.schemaVersion() == latestSchema)
        #expect(try await again.record(owner: "project:p1", name: "git-token")?.id == second.id)
        try await again.close()
    }

    @Test func aNewerSchemaOrACorruptRowIsAClearError() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/newer.sqlite"
        let store = try await SQLSecurityStore.openSQLite(path: path)
        try await store.database.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)").run()
        try await store.database.raw(
            """
            INSERT INTO vault_records (id, owner, name, key_version, sealed, updated_at) VALUES ('x', 'o', 'n', 1, X'00', 0)
            """
        ).run()
        let corrupt = await #expect(throws: StoreError.self) { try await store.record(owner: "o", name: "n") }
        #expect(corrupt?.code == .corrupt)
        try await store.close()
        let newer = await #expect(throws: StoreError.self) { try await SQLSecurityStore.openSQLite(path: path) }
        #expect(newer?.code == .incompatible)
        let missing = await #expect(throws: StoreError.self) {
            try await SQLSecurityStore.openSQLite(path: directory + "/no/such/dir/x.sqlite")
        }
        #expect(missing?.code == .unavailable)
    }

    @Test(arguments: Backend.enabled)
    func batchReplaceIsOneTransactionThatSkipsChangedRows(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        let rows = try (0..<5).map { try row(owner: "projects/p\($0)", secret: "ghp_\($0)") }
        for row in rows { try await store.put(row) }
        // Record 2 is set again after the rotation read it: its replacement must not apply.
        let fresh = try row(owner: "projects/p2", secret: "ghp_new", id: rows[2].id)
        try await store.put(fresh)
        let batch = try rows.map { VaultReplacement(id: $0.id, expected: $0.sealed, sealed: try vault.reseal($0.sealed, for: $0.identity)) }
        #expect(try await store.replace(batch, now: 1_800_000_500) == 4)
        let kept = try #require(try await store.record(owner: "projects/p2", name: "git-token"))
        let keptSecret = try secret(of: kept)
        #expect(kept.sealed == fresh.sealed && keptSecret == "ghp_new")
        #expect(try await store.record(owner: "projects/p0", name: "git-token")?.sealed == batch[0].sealed)
        #expect(try await store.replace([], now: 0) == 0)

        #expect(try await store.recordCountsByKeyVersion() == [1: 5])
        #expect(try await store.encryptionCounts() == [:])
        try await store.recordEncryptions(version: 1, count: 3)
        try await store.recordEncryptions(version: 1, count: 2)
        try await store.recordEncryptions(version: 2, count: 1)
        #expect(try await store.encryptionCounts() == [1: 5, 2: 1])
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func grantsArePerAgentAndVariable(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        try await store.putGrant(
            SecretGrant(agent: "builder-7", env: "GITHUB_TOKEN", owner: "projects/p1", name: "git-token", createdAt: 1))
        try await store.putGrant(
            SecretGrant(agent: "builder-7", env: "OPENAI_API_KEY", owner: "users/alice", name: "keys/openai", createdAt: 2))
        // Granting the same variable again points it elsewhere.
        try await store.putGrant(
            SecretGrant(agent: "builder-7", env: "GITHUB_TOKEN", owner: "projects/p2", name: "git-token", createdAt: 3))
        try await store.putGrant(SecretGrant(agent: "other", env: "GITHUB_TOKEN", owner: "projects/p9", name: "git-token", createdAt: 4))
        try await store.close()
        let store2 = try await reopen()
        let grants = try await store2.grants(agent: "builder-7")
        #expect(grants.map(\.env) == ["GITHUB_TOKEN", "OPENAI_API_KEY"])
        #expect(grants.first?.owner == "projects/p2")
        #expect(try await store2.deleteGrant(agent: "builder-7", env: "GITHUB_TOKEN"))
        #expect(!(try await store2.deleteGrant(agent: "builder-7", env: "GITHUB_TOKEN")))
        #expect(try await store2.grants(agent: "builder-7").count == 1)
        #expect(try await store2.grants(agent: "other").count == 1)
        try await store2.close()
    }

    @Test func openByURL() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLSecurityStore.open(url: "sqlite:" + directory + "/by-url.sqlite")
        #expect(store.dialect == .sqlite)
        try await store.close()
        #expect(FileManager.default.fileExists(atPath: directory + "/by-url.sqlite"))
        for bad in ["mysql://root:hunter2@db/x", "sqlite:", "/plain/path"] {
            let error = await #expect(throws: StoreError.self) { try await SQLSecurityStore.open(url: bad) }
            #expect(error.map { !$0.reason.contains("hunter2") && $0.code == .unavailable } == true)
        }
        // An unreachable server is unavailable, and the password is not repeated.
        let unreachable = await #expect(throws: StoreError.self) {
            try await SQLSecurityStore.open(url: "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable")
        }
        #expect(unreachable.map { !$0.description.contains("hunter2") && $0.code == .unavailable } == true)
    }

    @Test func operationsTakeTurnsOnOneConnection() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLSecurityStore.openSQLite(path: directory + "/turns.sqlite")
        // Writes racing a batch transaction neither fail nor land inside it.
        let rows = try (0..<50).map { try row(owner: "projects/p\($0)", secret: "ghp_\($0)") }
        for row in rows { try await store.put(row) }
        let batch = try rows.map { VaultReplacement(id: $0.id, expected: $0.sealed, sealed: try vault.reseal($0.sealed, for: $0.identity)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await store.replace(batch, now: 1) }
            for index in 0..<50 {
                group.addTask { try await store.put(try row(owner: "users/u\(index)", secret: "sk-\(index)")) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.records(owner: nil).count == 100)
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func revocationsPersistAndOnlyGrowStricter(backend: Backend) async throws {
        let (store, reopen) = try await backend.open()
        let live = try TokenID.random(), dead = try TokenID.random()
        try await store.recordRevocation(tokenID: live, expiresAt: 2_000, at: 1_000)
        try await store.recordRevocation(tokenID: dead, expiresAt: 1_500, at: 1_000)
        try await store.recordRevocation(tokenID: live, expiresAt: 1_800, at: 1_001)  // never shortens
        let agent = try AgentID("builder-7")
        try await store.recordRevocation(agent: agent, issuedBefore: 1_200, at: 1_200)
        try await store.recordRevocation(agent: agent, issuedBefore: 1_100, at: 1_300)  // never undoes a later one
        try await store.close()

        let again = try await reopen()
        let atStart = try await again.revocations(now: 1_000)
        #expect(Set(atStart.tokens) == [.init(id: live, expiresAt: 2_000), .init(id: dead, expiresAt: 1_500)])
        #expect(atStart.agents == [agent: 1_200])
        #expect(try await again.revocations(now: 1_600).tokens == [.init(id: live, expiresAt: 2_000)])
        #expect(try await again.pruneRevocations(now: 1_600) == 1)
        #expect(try await again.revocations(now: 0).tokens.count == 1)

        let list = InMemoryRevocationList(clock: ManualTimeSource(1_000))
        atStart.apply(to: list)
        #expect(list.revokedTokenCount == 2)
        try await again.close()
    }
}
