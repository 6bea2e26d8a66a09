import AgentHost
import ArgumentParser
import Foundation
import SecurityCore
import SecurityStore

/// `agenthost scrub DIR --secret NAME...`: no credential survives in a workspace.
struct ScrubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Remove credentials from a workspace's git configuration, then search it for the named secrets.",
        discussion: """
            Strips user info from remote URLs, http.extraheader and credential helpers in every git configuration \
            under DIR, then searches every file for each secret (raw, base64, base64url, URL-encoded, hex). On a hit \
            the workspace is deleted and the command exits 1, naming the file (never the secret).
            """
    )
    @Argument(help: "The workspace directory.") var directory: String
    @Option(name: .customLong("secret"), help: "A vault secret to search for, such as projects/p1/git-token; repeat for more.")
    var secrets: [String] = []
    @OptionGroup var data: DataDirectoryOption
    @OptionGroup var database: DatabaseOption

    func validate() throws {
        guard !secrets.isEmpty else { throw ValidationError("name at least one --secret to search for") }
        for name in secrets {
            do {
                _ = try SecretPath(name)
            } catch let error as AgentHostError {
                throw ValidationError(error.message)
            }
        }
    }

    func run() async throws {
        let paths = try secrets.map { try SecretPath($0) }
        let workspace = directory
        let outcome = try await database.withVault(data: data) { session -> (WorkspaceScrubber.Finding?, WorkspaceScrubber.Cleaned) in
            var loaded = [SecureBytes]()
            for path in paths {
                guard let secret = try await session.credentials.withSecret(path, { SecureBytes(copying: $0) }) else {
                    throw AgentHostError(.notFound, "no secret is set at \(path)")
                }
                loaded.append(secret)
            }
            let scrubber: WorkspaceScrubber
            do throws(ScrubError) {
                scrubber = try WorkspaceScrubber(secrets: loaded)
            } catch {
                throw error
            }
            let scrubbed: WorkspaceScrubber.Outcome
            do throws(ScrubError) {
                scrubbed = try scrubber.scrub(workspace)
            } catch {
                throw error
            }
            let (finding, cleaned) = (scrubbed.finding, scrubbed.cleaned)
            let trail = try await AuditTrail.open(store: session.store, credentials: session.credentials, logger: VaultCommand.logger)
            try await trail.append(UsersCommand.event(
                "workspace.scrubbed", target: workspace,
                details: ["git_config_lines": "\(cleaned.lines)", "found_in": finding?.path ?? "", "deleted": "\(finding != nil)"]
            ))
            return (finding, cleaned)
        }
        for file in outcome.1.files { print("cleaned \(file)") }
        if let finding = outcome.0 {
            FileHandle.standardError.write(Data("scrub: \(finding)\n".utf8))
            throw ExitCode(1)
        }
        print("clean: no secret found in \(workspace)")
    }
}
