package import SecurityCore

extension AgentHostCLI {
    /// Records a keyring change in the audit log. The change itself is already made: returns a
    /// warning to print when it could not be recorded, else `nil`.
    package static func recordKeyChange(_ action: String, key: String, at place: Place) async -> String? {
        do {
            try await place.withAudit { _, trail in try await trail.append(event(action, target: key)) }
            return nil
        } catch {
            return "warning: the change is made, but could not be recorded in the audit log: \(error)"
        }
    }

    /// One line per token key and vault key version: id, status, creation time (never a secret).
    /// When the vault keys cannot be loaded, the token keys are listed and `vaultProblem` says why.
    package static func keyLines(at place: Place) throws -> (lines: [String], vaultProblem: String?) {
        let loaded = try KeySource.load(dataDirectory: place.dataDirectory, environment: place.environment, createIfMissing: false, now: 0)
        var lines = loaded.keyring.keys.map { key in
            "\(key.id)\t\(key.status.rawValue)\t\(UTCTimestamp.string(seconds: key.createdAt))"
        }
        let vault: VaultKeySource.Loaded
        do {
            vault = try VaultKeySource.load(
                dataDirectory: place.dataDirectory, environment: place.environment, createIfMissing: false, now: 0)
        } catch {
            return (lines, "vault keys: \(error)")
        }
        for entry in vault.keys.entries {
            let status =
                entry.version == vault.keys.primaryVersion ? "primary" : entry.version < vault.keys.minimumVersion ? "retired" : "opens"
            lines.append("vault-v\(entry.version)\t\(status)\t\(UTCTimestamp.string(seconds: entry.createdAt))")
        }
        return (lines, nil)
    }

    /// What `audit verify` found: the first record that does not verify, if any, the head, and how
    /// many records verify.
    package static func verifyAudit(at place: Place) async throws -> (problem: AuditChain.Problem?, head: AuditHead?, verified: Int) {
        try await place.withAudit { _, trail in try await trail.verify() }
    }
}
