import Foundation
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// Passkeys, on SQLite and on PostgreSQL: one credential id once, a counter that only goes up,
/// a user's own only, and gone with the user.
struct PasskeyStoreTests {
    static func passkey(_ id: String, of username: String = "alice", at time: Int64 = 10) -> PasskeyRecord {
        PasskeyRecord(
            id: id, username: username, name: "laptop", publicKey: [0xA5, 0x01, 0x02], algorithm: -7, signCount: 0, createdAt: time,
            lastUsedAt: nil)
    }

    @Test(arguments: Backend.enabled)
    func passkeysAreKeptUsedForwardAndRemoved(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        #expect(
            try await store.createUser(UserRecord(username: "alice", role: "member", passwordHash: "", createdAt: 1, sessionsNotBefore: 1)))
        let first = Self.passkey("cred-1"), second = Self.passkey("cred-2", at: 20)
        #expect(try await store.addPasskey(first))
        #expect(try await store.addPasskey(second))
        #expect(try await store.addPasskey(Self.passkey("cred-1", of: "mallory")) == false, "an id is registered once")
        #expect(try await store.passkey(id: "cred-1") == first)
        #expect(try await store.passkeys(of: "alice").map(\.id) == ["cred-1", "cred-2"])

        // An authenticator without a counter (0 each time) is used again and again...
        #expect(try await store.recordPasskeyUse(id: "cred-1", signCount: 0, at: 30))
        #expect(try await store.recordPasskeyUse(id: "cred-1", signCount: 0, at: 31))
        // ...one with a counter only forward.
        #expect(try await store.recordPasskeyUse(id: "cred-2", signCount: 5, at: 40))
        #expect(try await store.recordPasskeyUse(id: "cred-2", signCount: 5, at: 41) == false, "the same counter again")
        #expect(try await store.recordPasskeyUse(id: "cred-2", signCount: 4, at: 42) == false)
        #expect(try await store.recordPasskeyUse(id: "cred-2", signCount: 0, at: 43) == false, "back to 0 after counting")
        let used = try #require(try await store.passkey(id: "cred-2"))
        #expect(used.signCount == 5 && used.lastUsedAt == 40)

        #expect(try await store.renamePasskey(id: "cred-2", of: "mallory", to: "mine") == false, "another user's")
        #expect(try await store.renamePasskey(id: "cred-2", of: "alice", to: "phone"))
        #expect(try await store.passkey(id: "cred-2")?.name == "phone")
        #expect(try await store.removePasskey(id: "cred-2", of: "mallory") == false)
        #expect(try await store.removePasskey(id: "cred-2", of: "alice"))
        #expect(try await store.deleteUser(named: "alice"))
        #expect(try await store.passkey(id: "cred-1") == nil)
        try await store.close()
    }
}
