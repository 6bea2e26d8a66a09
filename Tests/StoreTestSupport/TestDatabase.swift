import Foundation
import Logging
import PostgresKit
public import SecurityStore

/// Which database a test runs against. PostgreSQL comes from `scripts/with-postgres` (run by
/// `scripts/test`), which sets `AGENTHOST_TEST_POSTGRES_URL`. Without it, opening a PostgreSQL
/// store fails the test. Tests that need it say so with `.enabled(if: Backend.postgresEnabled)`,
/// or take their backends from ``enabled``, so without PostgreSQL they are reported skipped (or
/// not generated, next to a skipped `postgreSQLIsConfigured` test), never passed.
public enum Backend: String, CaseIterable, Sendable {
    case sqlite
    case postgres

    /// Whether the PostgreSQL tests are to run: a server is configured, or one is required (and
    /// its absence then fails them). For `.enabled(if: Backend.postgresEnabled)`.
    public static var postgresEnabled: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["AGENTHOST_TEST_POSTGRES_URL"] != nil || environment["AGENTHOST_REQUIRE_POSTGRES"] == "1"
    }

    /// The backends to run a test on: SQLite, and PostgreSQL when ``postgresEnabled``.
    public static var enabled: [Backend] { postgresEnabled ? allCases : [.sqlite] }

    /// A URL for a new, empty database of this kind. Throws ``MissingPostgres`` when PostgreSQL
    /// is not configured.
    public func freshURL() async throws -> String {
        switch self {
        case .sqlite:
            return "sqlite:" + (sqliteDirectory as NSString).appendingPathComponent("\(UUID().uuidString).sqlite")
        case .postgres:
            let environment = ProcessInfo.processInfo.environment
            guard let url = environment["AGENTHOST_TEST_POSTGRES_URL"] else {
                throw MissingPostgres()
            }
            // A database of its own per test, so tests run in parallel without seeing each other.
            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let configuration = try SQLPostgresConfiguration(url: url)
            let connection = try await PostgresConnection.connect(
                configuration: configuration.coreConfiguration, id: 1, logger: Logger(label: "test")
            )
            do {
                try await connection.sql().raw("CREATE DATABASE \(ident: name)").run()
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
            return url.replacingOccurrences(of: "/postgres?", with: "/\(name)?")
        }
    }

    /// A new, empty store, and a way to open it again; throws as ``freshURL()`` does.
    public func open() async throws -> (store: SQLSecurityStore, reopen: @Sendable () async throws -> SQLSecurityStore) {
        let url = try await freshURL()
        let store = try await SQLSecurityStore.open(url: url)
        return (store, { try await SQLSecurityStore.open(url: url) })
    }
}

/// Where the SQLite test databases live: one directory per test process, removed when it exits.
let sqliteDirectory: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("agenthost-store-tests-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: sqliteDirectory) }
    return path
}()

/// A PostgreSQL store was asked for where none is configured: a test that needs one must be
/// enabled only with ``Backend/postgresEnabled``, and CI runs them all.
public struct MissingPostgres: Error, CustomStringConvertible {
    public var description: String { "AGENTHOST_TEST_POSTGRES_URL is not set: run the tests through scripts/test" }
}
