import Foundation
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// Single sign-on's links from a provider's subject to a user, on SQLite and on PostgreSQL.
struct IdentityLinkStoreTests {
    @Test(arguments: Backend.enabled)
    func aSubjectIsLinkedOnceAndGoesWithItsUser(backend: Backend) async throws {
        let (store, _) = try await backend.open()
        #expect(
            try await store.createUser(UserRecord(username: "alice", role: "member", passwordHash: "", createdAt: 1, sessionsNotBefore: 1)))
        let google = IdentityLink(provider: "google", subject: "1098", username: "alice", email: "alice@example.com", createdAt: 10)
        let keycloak = IdentityLink(provider: "keycloak", subject: "f81d", username: "alice", email: "", createdAt: 20)
        #expect(try await store.addIdentityLink(google))
        #expect(try await store.addIdentityLink(keycloak))
        // The same subject at the same provider is never linked twice, to anyone.
        #expect(
            try await store.addIdentityLink(
                IdentityLink(provider: "google", subject: "1098", username: "mallory", email: "", createdAt: 30)) == false)
        #expect(try await store.identityLink(provider: "google", subject: "1098") == google)
        #expect(try await store.identityLink(provider: "keycloak", subject: "1098") == nil)
        #expect(try await store.identityLinks(of: "alice") == [google, keycloak])
        #expect(try await store.removeIdentityLink(provider: "keycloak", subject: "f81d"))
        #expect(try await store.removeIdentityLink(provider: "keycloak", subject: "f81d") == false)
        #expect(try await store.deleteUser(named: "alice"))
        #expect(try await store.identityLinks(of: "alice").isEmpty)
        #expect(try await store.identityLink(provider: "google", subject: "1098") == nil)
        #expect(try await store.schemaVersion() == 13)
        try await store.close()
    }
}
