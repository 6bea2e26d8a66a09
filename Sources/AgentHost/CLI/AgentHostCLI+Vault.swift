import Foundation
package import Logging
package import SecurityCore
package import SecurityStore

extension AgentHostCLI {
    /// The variable that names the database when `--database` is not given.
    package static let databaseVariable = "AGENTHOST_DATABASE_URL"

    /// The database to use: `--database`, else `AGENTHOST_DATABASE_URL`, else the SQLite file
    /// `agenthost.sqlite` in the data directory.
    package static func databaseURL(option: String?, dataDirectory: String, environment: [String: String]) -> String {
        if let option, !option.isEmpty { return option }
        if let value = environment[databaseVariable], !value.isEmpty { return value }
        return "sqlite:" + (dataDirectory as NSString).appendingPathComponent("agenthost.sqlite")
    }

    /// Opens the store `url` names, creating the data directory (mode 0700) for the default
    /// SQLite file. Errors name the database kind, never the URL (it may hold a password).
    package static func openStore(url: String, dataDirectory: String, logger: Logger) async throws -> SQLSecurityStore {
        if url.hasPrefix("sqlite:"), !FileManager.default.fileExists(atPath: dataDirectory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw AgentHostError(.store, "cannot create data directory \(dataDirectory)")
            }
        }
        do {
            return try await SQLSecurityStore.open(url: url, logger: logger)
        } catch let error as StoreError {
            throw AgentHostError(.store, "the credential store did not open: \(error.reason)")
        }
    }

    /// Opens the store, runs `body` with it, and closes it whether `body` succeeds or throws.
    package static func withStore<Result>(
        url: String, dataDirectory: String, logger: Logger, _ body: (SQLSecurityStore) async throws -> Result
    ) async throws -> Result {
        let store = try await openStore(url: url, dataDirectory: dataDirectory, logger: logger)
        let result: Result
        do {
            result = try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        return result
    }

    /// What a `vault` command works with: the keys, the open store, and the service over both.
    package struct VaultSession: Sendable {
        package let keys: VaultKeySource.Loaded
        package let store: SQLSecurityStore
        package let credentials: CredentialService
    }

    /// Loads the vault keys (never creating them), opens the store, runs `body`, and closes the
    /// store whether `body` succeeds or throws.
    package static func withVault<Result>(
        databaseURL: String, dataDirectory: String, environment: [String: String], logger: Logger,
        _ body: (VaultSession) async throws -> Result
    ) async throws -> Result {
        let keys = try VaultKeySource.load(dataDirectory: dataDirectory, environment: environment, createIfMissing: false, now: 0)
        return try await withStore(url: databaseURL, dataDirectory: dataDirectory, logger: logger) { store in
            let credentials = try await CredentialService.open(keys: keys.keys.keyring, store: store)
            return try await body(VaultSession(keys: keys, store: store, credentials: credentials))
        }
    }

    /// What `vault rotate` did.
    package struct VaultRotation: Sendable {
        /// The primary version records are now sealed under.
        package let primaryVersion: UInt32
        /// Whether this run added that version to the keyring file (a run that resumes an
        /// interrupted rotation adds none).
        package let addedKey: Bool
        package let progress: CredentialService.ResealProgress
    }

    /// Rotates the vault key: re-seals every record under the primary version, in batched
    /// transactions. When every record is already under the primary, a new primary version is
    /// added to the keyring file first; when some are not (an interrupted rotation, or keys
    /// changed in the environment), it re-seals those. Killed at any moment, running it again
    /// finishes the job.
    package static func rotateVault(
        databaseURL: String, dataDirectory: String, environment: [String: String], batchSize: Int, logger: Logger,
        clock: any TimeSource = SystemTimeSource(), progress: (CredentialService.ResealProgress) -> Void = { _ in }
    ) async throws -> VaultRotation {
        var keys = try VaultKeySource.load(dataDirectory: dataDirectory, environment: environment, createIfMissing: false, now: 0)
        return try await withStore(url: databaseURL, dataDirectory: dataDirectory, logger: logger) { store in
            let stale = try await store.recordCountsByKeyVersion().filter { $0.key != keys.keys.primaryVersion }.values.reduce(0, +)
            var added = false
            if stale == 0 {
                guard case .file(let path) = keys.source else {
                    throw AgentHostError(
                        .keys,
                        "every record is already sealed under vault key version \(keys.keys.primaryVersion). Vault keys come from "
                            + "\(VaultKeySet.primaryVariable): to rotate, set it to a new version, move the old key to "
                            + "\(VaultKeySet.olderVariable), and run this again"
                    )
                }
                let rotated = try keys.keys.rotated(now: clock.now())
                // Saved before any record is re-sealed under it: a crash never leaves a record
                // sealed with a key that is not on disk.
                try KeyringFile(dataDirectory: dataDirectory).saveVault(rotated)
                keys = VaultKeySource.Loaded(keys: rotated, source: .file(path: path), created: false)
                added = true
            }
            let credentials = try await CredentialService.open(keys: keys.keys.keyring, store: store, clock: clock)
            let result = try await credentials.resealAll(batchSize: batchSize, progress: progress)
            return VaultRotation(primaryVersion: keys.keys.primaryVersion, addedKey: added, progress: result)
        }
    }
}
