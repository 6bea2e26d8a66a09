import SecurityCore
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

    let key = OpenedSecretCache<String>.Key(scope: "fake", agent: "builder-7", env: "FAKE_API_KEY")

    @Test func aValueHoldsOnlyForTheRecordItWasMadeFrom() throws {
        let cache = OpenedSecretCache<String>(ticks: ManualTimeSource(0))
        let first = try Self.record("r1")
        cache.keep("opened 1", for: key, record: first)
        #expect(cache.value(for: key, record: first) == "opened 1")
        // Another agent, scope or env name shares nothing.
        #expect(cache.value(for: .init(scope: "fake", agent: "other", env: "FAKE_API_KEY"), record: first) == nil)
        #expect(cache.value(for: .init(scope: "git", agent: "builder-7", env: "FAKE_API_KEY"), record: first) == nil)
        // The secret set again (another record, or the same one sealed again): not served, and dropped.
        #expect(cache.value(for: key, record: try Self.record("r2")) == nil)
        #expect(cache.count == 0)
        cache.keep("opened 1", for: key, record: first)
        #expect(cache.value(for: key, record: try Self.record("r1")) == nil)
        cache.keep("opened 1", for: key, record: first)
        cache.forget(key)
        #expect(cache.value(for: key, record: first) == nil)
    }

    @Test func aValueIdleForItsLifetimeIsGoneWhetherAskedForOrSwept() throws {
        let clock = ManualTimeSource(0)
        let cache = OpenedSecretCache<String>(ticks: clock, idleLifetime: .seconds(60))
        let record = try Self.record("r1")
        cache.keep("opened", for: key, record: record)
        clock.advance(by: .seconds(59))
        // A use moves the idle time on.
        #expect(cache.value(for: key, record: record) == "opened")
        clock.advance(by: .seconds(59))
        cache.sweep()
        #expect(cache.count == 1)
        clock.advance(by: .seconds(1))
        #expect(cache.value(for: key, record: record) == nil)
        cache.keep("opened", for: key, record: record)
        clock.advance(by: .seconds(60))
        cache.sweep()
        #expect(cache.count == 0)
        cache.keep("opened", for: key, record: record)
        cache.removeAll()
        #expect(cache.count == 0)
    }
}
