import SecurityStore
import StoreTestSupport
import Testing

/// Without PostgreSQL, the `.postgres` cases of this target's tests are not generated
/// (`Backend.enabled`); this test is what says so, skipped with its reason, so a run without
/// PostgreSQL never looks like a full pass.
struct PostgreSQLConfiguredTests {
    @Test(.enabled(if: Backend.postgresEnabled, "PostgreSQL is not configured: the .postgres cases of AgentHost's tests did not run"))
    func theHostsTestsRunOnPostgreSQLToo() async throws {
        #expect(Backend.enabled.contains(.postgres))
        let (store, _) = try await Backend.postgres.open()
        #expect(store.dialect == .postgres)
        try await store.close()
    }
}
