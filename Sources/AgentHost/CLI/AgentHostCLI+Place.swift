package import Logging
package import SecurityCore
package import SecurityStore

extension AgentHostCLI {
    /// Where a command finds the keyring and the store: the data directory and the database that
    /// its options and the variables name.
    package struct Place: Sendable {
        package let dataDirectory: String
        package let databaseURL: String
        package let environment: [String: String]

        /// `--data-dir` (else `AGENTHOST_DATA_DIR`, else `./.agenthost`) and `--database` (else
        /// `AGENTHOST_DATABASE_URL`, else the SQLite file in the data directory).
        package init(dataDirectory: String?, database: String?, environment: [String: String]) {
            self.dataDirectory = dataDirectory ?? AgentHostConfiguration.defaultDataDirectory(environment: environment)
            self.databaseURL = AgentHostCLI.databaseURL(option: database, dataDirectory: self.dataDirectory, environment: environment)
            self.environment = environment
        }

        /// Opens the store, runs `body`, and closes it.
        package func withStore<Result>(_ body: (SQLSecurityStore) async throws -> Result) async throws -> Result {
            try await AgentHostCLI.withStore(url: databaseURL, dataDirectory: dataDirectory, logger: AgentHostCLI.logger, body)
        }

        /// Loads the vault keys, opens the store, runs `body` with both, and closes the store.
        package func withVault<Result>(_ body: (VaultSession) async throws -> Result) async throws -> Result {
            try await AgentHostCLI.withVault(
                databaseURL: databaseURL, dataDirectory: dataDirectory, environment: environment, logger: AgentHostCLI.logger, body
            )
        }

        /// Opens the vault, then the audit trail over it, and runs `body` with both.
        package func withAudit<Result>(_ body: (VaultSession, AuditTrail) async throws -> Result) async throws -> Result {
            try await withVault { session in
                let trail = try await AuditTrail.open(store: session.store, credentials: session.credentials, logger: AgentHostCLI.logger)
                return try await body(session, trail)
            }
        }
    }

    /// A quiet logger: the commands report on standard output and errors.
    package static var logger: Logger {
        var logger = Logger(label: "agenthost.cli")
        logger.logLevel = .error
        return logger
    }

    /// An event done from the command line, for the audit log.
    package static func event(_ action: String, target: String, details: [String: String] = [:]) -> AuditEvent {
        AuditEvent(time: SystemTimeSource().now() * 1000, actor: "cli", action: action, target: target, details: details)
    }

    /// `bytes` read from standard input without one trailing newline (`\n` or `\r\n`).
    package static func withoutTrailingNewline(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }
}
