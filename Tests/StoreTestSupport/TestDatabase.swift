import Foundation
import Logging
import PostgresKit
public import SecurityStore

/// Which database a test runs against. PostgreSQL comes from `scripts/with-postgres` (run by
/// `scripts/test`), which sets `AGENTHOST_TEST_POSTGRES_URL`. Without it, opening a PostgreSQL
/// store throws when `AGENTHOST_REQUIRE_POSTGRES=1` (as in CI) and is skipped (`nil`) otherwise.
public enum Backend: String, CaseIterable, Sendable {
    case sqlite
    case postgres

    /// A URL for a new, empty database of this kind, or `nil` when PostgreSQL is not available
    /// and not required.
    public func freshURL() async throws -> String? {
        switch self {
        case .sqlite:
            return "sqlite:" + (sqliteDirectory as NSString).appendingPathComponent("\(UUID().uuidString).sqlite")
        case .postgres:
            let environment = ProcessInfo.processInfo.environment
            guard let url = environment["AGENTHOST_TEST_POSTGRES_URL"] else {
                if environment["AGENTHOST_REQUIRE_POSTGRES"] == "1" {
                    throw MissingPostgres()
                }
                return nil
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

    /// A new, empty store, and a way to open it again; `nil` as for ``freshURL()``.
    public func open() async throws -> (store: SQLSecurityStore, reopen: @Sendable () async throws -> SQLSecurityStore)? {
        guard let url = try await freshURL() else { return nil }
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

/// CI runs the PostgreSQL cases; they must not pass by being skipped.
public struct MissingPostgres: Error, CustomStringConvertible {
    public var description: String { "AGENTHOST_TEST_POSTGRES_URL is not set: run the tests through scripts/test" }
}
