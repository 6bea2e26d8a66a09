import AgentHost
import ArgumentParser
import Foundation
import SecurityCore
import SecurityStore

/// `agenthost git clone|fetch`: git with a vault credential that never reaches argv or the clone.
struct GitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git",
        abstract: "Clone or fetch with a vault credential that never reaches a command line or the clone.",
        discussion: """
            The credential is read from the vault and handed to git through a credential helper in git's \
            environment; it is never in git's argv, a URL or the clone's configuration. Afterwards the workspace \
            is scrubbed for it, as `agenthost scrub` does.
            """,
        subcommands: [Clone.self, Fetch.self]
    )

    struct CredentialOptions: ParsableArguments {
        @Option(name: .customLong("secret"), help: "The vault secret holding the token, such as projects/p1/git-token.")
        var secret: String
        @Option(help: "The user name git sends with it (GitHub and GitLab accept any for a token).")
        var username = "x-access-token"

        func validate() throws {
            do {
                _ = try SecretPath(secret)
            } catch let error as AgentHostError {
                throw ValidationError(error.message)
            }
        }
    }

    struct Clone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "git clone URL DIR with a vault credential.")
        @Argument(help: "An https:// URL without user info (http:// only to a loopback address).") var url: String
        @Argument(help: "The directory to clone into; it must not exist yet.") var directory: String
        @Option(help: "The branch to check out.") var branch: String?
        @OptionGroup var credential: CredentialOptions
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            do throws(GitError) {
                _ = try GitRemote(url)
            } catch {
                throw ValidationError(error.reason)
            }
        }

        func run() async throws {
            let remote = try GitRemote(url)
            try await GitCommand.withCredential(credential, data: data, database: database, workspace: directory, action: "git.clone") {
                (runner, git) throws(GitError) in
                try await runner.clone(remote, into: directory, credential: git, branch: branch)
            }
            print("cloned \(remote) into \(directory)")
        }
    }

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "git fetch in a clone with a vault credential.")
        @Argument(help: "The clone.") var directory: String
        @Option(help: "The remote to fetch.") var remote = "origin"
        @OptionGroup var credential: CredentialOptions
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            try await GitCommand.withCredential(credential, data: data, database: database, workspace: directory, action: "git.fetch") {
                (runner, git) throws(GitError) in
                try await runner.fetch(in: directory, remoteName: remote, credential: git)
            }
            print("fetched \(remote) in \(directory)")
        }
    }

    /// Opens the secret, runs git with it, records the release, then scrubs the workspace for it;
    /// exits 1 when the secret is found there afterwards.
    static func withCredential(
        _ options: CredentialOptions, data: DataDirectoryOption, database: DatabaseOption, workspace: String, action: String,
        _ body: (GitCredentialRunner, GitCredentialRunner.Credential) async throws(GitError) -> GitCredentialRunner.Outcome
    ) async throws {
        let finding = try await AgentHostCLI.withGitCredential(
            try SecretPath(options.secret), username: options.username, workspace: workspace, action: action,
            at: database.place(data: data), body
        )
        if let finding {
            FileHandle.standardError.write(Data("git: \(finding)\n".utf8))
            throw ExitCode(1)
        }
    }
}
