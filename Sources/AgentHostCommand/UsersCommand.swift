import AgentHost
import ArgumentParser
import Foundation
import Logging
import SecurityCore
import SecurityStore

/// `agenthost users`: people who log in with `POST /api/login`.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage the users who log in with a password.",
        subcommands: [Add.self, List.self, SetPassword.self, SetRole.self, SecondFactor.self, Delete.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user; the password is read from standard input (never from argv).",
            discussion: "At least \(AccountService.minimumPasswordLength) characters. One trailing newline is dropped."
        )
        @Option(help: "User name (1-128 of A-Z a-z 0-9 _ -).") var username: String
        @Option(help: "Role, such as member, admin or owner.") var role: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            do {
                try AccountService.checkUsername(username)
            } catch {
                throw ValidationError(error.reason)
            }
            guard (try? Role(role)) != nil else { throw ValidationError("--role must be 1-128 of A-Z a-z 0-9 _ -") }
        }

        func run() async throws {
            let password = try UsersCommand.readPassword()
            try await AgentHostCLI.addUser(username: username, role: role, password: password, at: database.place(data: data))
            print("added user \(username) (\(role))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users: name, role and when they were created.")
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let users = try await AgentHostCLI.users(at: database.place(data: data))
            for user in users {
                print("\(user.username)\t\(user.role)\t\(UTCTimestamp.string(seconds: user.createdAt))")
            }
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Set a user's password from standard input; their open sessions end."
        )
        @Option(help: "User name.") var username: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let password = try UsersCommand.readPassword()
            try await AgentHostCLI.setPassword(username: username, password: password, at: database.place(data: data))
            print("password of \(username) changed; their sessions have ended")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-role", abstract: "Give a user another role; their open sessions end.")
        @Option(help: "User name.") var username: String
        @Option(help: "The new role, such as member, admin or owner.") var role: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            guard (try? Role(role)) != nil else { throw ValidationError("--role must be 1-128 of A-Z a-z 0-9 _ -") }
        }

        func run() async throws {
            try await AgentHostCLI.setRole(username: username, role: role, at: database.place(data: data))
            print("\(username) is now \(role); their sessions have ended")
        }
    }

    struct SecondFactor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "totp",
            abstract: "Require a second factor (TOTP) of a user at the portal's sign-in, or reset theirs.",
            discussion: "A user with --require sets one up at their next sign-in. --reset forgets the one set up (a lost phone)."
        )
        @Option(help: "User name.") var username: String
        @Flag(inversion: .prefixedNo, help: "Require a second factor of this user, whatever their role.") var require: Bool?
        @Flag(help: "Forget the user's second factor and recovery codes.") var reset = false
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            guard require != nil || reset else { throw ValidationError("say --require, --no-require or --reset") }
        }

        func run() async throws {
            try await AgentHostCLI.setSecondFactor(username: username, required: require, reset: reset, at: database.place(data: data))
            print(
                "second factor of \(username): "
                    + [require.map { $0 ? "required" : "not required" }, reset ? "reset" : nil].compactMap { $0 }.joined(separator: ", "))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user; their sessions stop working within seconds.")
        @Option(help: "User name.") var username: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            try await AgentHostCLI.deleteUser(username: username, at: database.place(data: data))
            print("deleted user \(username)")
        }
    }

    /// The password from standard input, checked.
    static func readPassword() throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data("reading the password from standard input; end it with Ctrl-D\n".utf8))
        }
        var input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        defer { SecureBytes.wipe(&input) }
        return try AgentHostCLI.password(from: input)
    }
}

/// `agenthost setup-token`: a new one-time onboarding token, replacing any earlier one.
struct SetupTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup-token",
        abstract: "Print a new one-time setup token for POST /api/credentials from another machine (valid 24 h; replaces any earlier one)."
    )
    @OptionGroup var data: DataDirectoryOption
    @OptionGroup var database: DatabaseOption

    func run() async throws {
        print(try await AgentHostCLI.issueSetupToken(at: database.place(data: data)))
    }
}
