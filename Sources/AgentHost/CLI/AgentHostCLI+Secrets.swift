package import SecurityCore
import SecurityStore

extension AgentHostCLI {
    /// Seals `input` (read from standard input; one trailing newline dropped) at `path` and returns
    /// the vault key version that sealed it.
    package static func putSecret(_ path: SecretPath, input: [UInt8], at place: Place) async throws -> UInt32 {
        var bytes = withoutTrailingNewline(input)
        defer { SecureBytes.wipe(&bytes) }
        let secret = SecureBytes(copying: bytes)
        return try await place.withVault { session in
            try await session.credentials.set(path, secret: secret)
            return session.keys.keys.primaryVersion
        }
    }

    /// The stored records (never their values), of one owner or all.
    package static func secrets(owner: String?, at place: Place) async throws -> [VaultRecordRow] {
        try await place.withStore { store in try await store.records(owner: owner) }
    }

    /// ``rotateVault(databaseURL:dataDirectory:environment:batchSize:logger:clock:progress:)`` at
    /// `place`, then a `vault.rotated` record in the audit log.
    package static func rotateVault(
        batchSize: Int, at place: Place, progress: (CredentialService.ResealProgress) -> Void = { _ in }
    ) async throws -> VaultRotation {
        let rotation = try await rotateVault(
            databaseURL: place.databaseURL, dataDirectory: place.dataDirectory, environment: place.environment,
            batchSize: batchSize, logger: logger, progress: progress
        )
        let done = rotation.progress
        try await place.withAudit { _, trail in
            try await trail.append(
                event(
                    "vault.rotated", target: "v\(rotation.primaryVersion)",
                    details: ["added_key": "\(rotation.addedKey)", "resealed": "\(done.resealed)", "failures": "\(done.failures.count)"]
                ))
        }
        return rotation
    }

    /// Opens every stored record and reports each that does not open.
    package static func verifyVault(at place: Place) async throws -> CredentialService.VerifyReport {
        try await place.withVault { session in try await session.credentials.verifyAll() }
    }

    /// Loads the secrets at `paths`; throws ``AgentHostError`` (not found) for a path with none.
    static func loadSecrets(_ paths: [SecretPath], from session: VaultSession) async throws -> [SecureBytes] {
        var loaded = [SecureBytes]()
        for path in paths {
            guard let secret = try await session.credentials.withSecret(path, { $0 }) else {
                throw AgentHostError(.notFound, "no secret is set at \(path)")
            }
            loaded.append(secret)
        }
        return loaded
    }

    /// Strips credentials from the git configurations under `workspace` and searches every file for
    /// the secrets at `paths`; on a hit the workspace is deleted (``WorkspaceScrubber``). Recorded
    /// in the audit log.
    package static func scrub(_ workspace: String, secrets paths: [SecretPath], at place: Place) async throws -> WorkspaceScrubber.Outcome {
        try await place.withAudit { session, trail in
            let scrubber = try WorkspaceScrubber(secrets: try await loadSecrets(paths, from: session))
            let outcome = try scrubber.scrub(workspace)
            try await trail.append(
                event(
                    "workspace.scrubbed", target: workspace,
                    details: [
                        "git_config_lines": "\(outcome.cleaned.lines)", "found_in": outcome.finding?.path ?? "",
                        "deleted": "\(outcome.finding != nil)",
                    ]
                ))
            return outcome
        }
    }

    /// Runs `git` (a clone or a fetch through ``GitCredentialRunner``) with the secret at `path` as
    /// its credential, records the release and the outcome, then scrubs `workspace` for the secret.
    /// Returns where the secret was found afterwards, if anywhere (the workspace is then deleted).
    package static func withGitCredential(
        _ path: SecretPath, username: String, workspace: String, action: String, at place: Place,
        _ git: (GitCredentialRunner, GitCredentialRunner.Credential) async throws(GitError) -> GitCredentialRunner.Outcome
    ) async throws -> WorkspaceScrubber.Finding? {
        try await place.withAudit { session, trail in
            let secret = try await loadSecrets([path], from: session)[0]
            try await trail.append(event("secret.released", target: path.description, details: ["purpose": action]))
            let scrubber = try WorkspaceScrubber(secrets: [secret])
            do {
                _ = try await git(try GitCredentialRunner(), try GitCredentialRunner.Credential(username: username, secret: secret))
            } catch {
                try await trail.append(event(action, target: workspace, details: ["outcome": "failed"]))
                throw error
            }
            let outcome = try scrubber.scrub(workspace)
            try await trail.append(
                event(
                    action, target: workspace,
                    details: ["outcome": outcome.finding == nil ? "clean" : "credential_found", "found_in": outcome.finding?.path ?? ""]
                ))
            return outcome.finding
        }
    }
}
