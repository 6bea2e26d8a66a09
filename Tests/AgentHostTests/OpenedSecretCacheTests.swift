import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

@testable import AgentHost

/// What the proxy keeps of opened secrets: only for the sealed record it was made from, and only
/// while it is used.
struct OpenedSecretCacheTests {
    static let vault: Vault = {
        let keyring = try? VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
        return Vault(keyring: keyring!)
    }()

    /// A record sealed under the id `id`: each call seals anew, so two calls give two versions.
    static func record(_ id: String) throws -> VaultRecordRow {
        let sealed = try vault.seal(
            SecureBytes(copying: Array("sk-test-0123456789abcdef".utf8)),
            for: RecordIdentity(owner: "projects/p1", recordID: id, name: "key"))
        return VaultRecordRow(id: id, owner: "projects/p1", name: "key", sealed: sealed, updatedAt: 0)
    }

    static let secret = SecureBytes(copying: Array("sk-test-0123456789abcdef".utf8))

    let key = OpenedSecretCache<String>.Key(scope: "fake", agent: "builder-7", env: "FAKE_API_KEY")

    @Test func aValueHoldsOnlyForTheRecordItWasMadeFrom() throws {
        let cache = OpenedSecretCache<String>(ticks: ManualTimeSource(0))
        let first = try Self.record("r1")
        cache.keep("opened 1", for: key, record: first, secret: Self.secret)
        #expect(cache.value(for: key, record: first)?.value == "opened 1")
        #expect(cache.value(for: key, record: first)?.secret == Self.secret)
        // Another agent, scope or env name shares nothing.
        #expect(cache.value(for: .init(scope: "fake", agent: "other", env: "FAKE_API_KEY"), record: first) == nil)
        #expect(cache.value(for: .init(scope: "git", agent: "builder-7", env: "FAKE_API_KEY"), record: first) == nil)
        // The secret set again (another record, or the same one sealed again): not served, and dropped.
        #expect(cache.value(for: key, record: try Self.record("r2")) == nil)
        #expect(cache.count == 0)
        cache.keep("opened 1", for: key, record: first, secret: Self.secret)
        #expect(cache.value(for: key, record: try Self.record("r1")) == nil)
        cache.keep("opened 1", for: key, record: first, secret: Self.secret)
        cache.forget(key)
        #expect(cache.value(for: key, record: first) == nil)
    }

    @Test func aValueIdleForItsLifetimeIsGoneWhetherAskedForOrSwept() throws {
        let clock = ManualTimeSource(0)
        let cache = OpenedSecretCache<String>(ticks: clock, idleLifetime: .seconds(60))
        let record = try Self.record("r1")
        cache.keep("opened", for: key, record: record, secret: Self.secret)
        clock.advance(by: .seconds(59))
        // A use moves the idle time on.
        #expect(cache.value(for: key, record: record)?.value == "opened")
        clock.advance(by: .seconds(59))
        cache.sweep()
        #expect(cache.count == 1)
        clock.advance(by: .seconds(1))
        #expect(cache.value(for: key, record: record) == nil)
        cache.keep("opened", for: key, record: record, secret: Self.secret)
        clock.advance(by: .seconds(60))
        cache.sweep()
        #expect(cache.count == 0)
        cache.keep("opened", for: key, record: record, secret: Self.secret)
        cache.removeAll()
        #expect(cache.count == 0)
    }
}

/// A secret served from the cache stays known to the log redactor, even after the redactor has
/// forgotten it to make room for others.
struct OpenedSecretRedactionTests {
    @Test func aSecretServedFromTheCacheIsLearntAgainByTheRedactor() async throws {
        let (store, _) = try await Backend.sqlite.open()
        do {
            let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
            let clock = ManualTimeSource(1_800_000_000)
            let redactor = SecretRedactor(capacity: 1)
            let credentials = try await CredentialService.open(keys: keys, store: store, clock: clock, redactor: redactor)
            let secret = "sk-test-cached-0123456789abcdef"
            let path = try SecretPath("projects/p1/provider-key")
            try await credentials.set(path, secret: SecureBytes(copying: Array(secret.utf8)))
            try await credentials.grant(agent: AgentID("builder-7"), secret: path, env: "FAKE_API_KEY", proxyOnly: true)
            let cache = OpenedSecretCache<Int>(ticks: clock)
            for _ in 0..<2 {
                _ = try await credentials.withGrantedSecret(agent: AgentID("builder-7"), env: "FAKE_API_KEY", cache: cache, scope: "fake") {
                    $0.count
                }
                #expect(cache.count == 1)
                #expect(!redactor.redact("key " + secret).contains(secret))
                // Another secret pushes it out of the redactor's one place.
                redactor.register(SecureBytes(copying: Array("sk-test-another-0123456789abcdef".utf8)))
                #expect(redactor.redact("key " + secret).contains(secret))
            }
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }
}
