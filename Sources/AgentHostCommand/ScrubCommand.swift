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
        let outcome = try await AgentHostCLI.scrub(directory, secrets: paths, at: database.place(data: data))
        for file in outcome.cleaned.files { print("cleaned \(file)") }
        if let finding = outcome.finding {
            FileHandle.standardError.write(Data("scrub: \(finding)\n".utf8))
            throw ExitCode(1)
        }
        print("clean: no secret found in \(directory)")
    }
}
