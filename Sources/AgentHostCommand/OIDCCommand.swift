import AgentHost
import ArgumentParser
import Foundation
import SecurityCore

/// `agenthost oidc`: the single sign-on providers' client secrets and who is linked to whom.
struct OIDCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oidc", abstract: "Manage single sign-on (oidc_providers): client secrets and identity links.",
        subcommands: [SetSecret.self, Links.self, Unlink.self]
    )

    struct SetSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-secret",
            abstract: "Seal a provider's client secret read from standard input (never from argv or a file).",
            discussion: "PROVIDER is its name under oidc_providers:. Servers read it at each sign-in: no restart is needed."
        )
        @Argument(help: "The provider's name.") var provider: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            if isatty(STDIN_FILENO) == 1 {
                FileHandle.standardError.write(Data("reading the client secret from standard input; end it with Ctrl-D\n".utf8))
            }
            var input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            defer { SecureBytes.wipe(&input) }
            try await AgentHostCLI.setOIDCSecret(provider: provider, input: input, at: database.place(data: data))
            print("sealed the client secret of \(provider)")
        }
    }

    struct Links: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List identity links: provider, subject, user, email.")
        @Option(help: "Only this user's.") var user: String?
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            for link in try await AgentHostCLI.identityLinks(of: user, at: database.place(data: data)) {
                print([link.provider, link.subject, link.username, link.email.isEmpty ? "-" : link.email].joined(separator: "\t"))
            }
        }
    }

    struct Unlink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a provider identity's link to its user (audited).")
        @Option(help: "The provider's name.") var provider: String
        @Option(help: "The provider's subject (sub), as 'oidc links' shows it.") var subject: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            guard try await AgentHostCLI.unlink(provider: provider, subject: subject, at: database.place(data: data)) else {
                throw AgentHostError(.notFound, "no link of \(provider) subject \(subject.prefix(64))")
            }
            print("unlinked \(provider) subject \(subject)")
        }
    }
}
