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
        subcommands: [Add.self, List.self, SetPassword.self, Delete.self]
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
            let added = try await UsersCommand.withAccounts(data: data, database: database) { accounts, trail in
                guard try await accounts.addUser(username: username, role: role, password: password) else { return false }
                try await trail.append(UsersCommand.event("user.added", target: "user:" + username, details: ["role": role]))
                return true
            }
            guard added else { throw AgentHostError(.conflict, "a user called \(username) already exists") }
            print("added user \(username) (\(role))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users: name, role and when they were created.")
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let users = try await database.withStore(data: data) { store in try await store.users() }
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
            let found = try await UsersCommand.withAccounts(data: data, database: database) { accounts, trail in
                guard try await accounts.setPassword(username: username, password: password) else { return false }
                try await trail.append(UsersCommand.event("user.password_set", target: "user:" + username))
                return true
            }
            guard found else { throw AgentHostError(.notFound, "there is no user called \(username.prefix(128))") }
            print("password of \(username) changed; their sessions have ended")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user; their sessions stop working within seconds.")
        @Option(help: "User name.") var username: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let deleted = try await UsersCommand.withAccounts(data: data, database: database) { accounts, trail in
                guard try await accounts.deleteUser(username: username) else { return false }
                try await trail.append(UsersCommand.event("user.deleted", target: "user:" + username))
                return true
            }
            guard deleted else { throw AgentHostError(.notFound, "there is no user called \(username.prefix(128))") }
            print("deleted user \(username)")
        }
    }

    /// The password from standard input, without one trailing newline, checked.
    static func readPassword() throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data("reading the password from standard input; end it with Ctrl-D\n".utf8))
        }
        var bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        defer { SecureBytes.wipe(&bytes) }
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard let password = String(validating: bytes, as: UTF8.self) else {
            throw AgentHostError(.invalidInput, "the password must be UTF-8 text")
        }
        do {
            try AccountService.checkNewPassword(password)
        } catch {
            throw error
        }
        return password
    }

    /// An event done from the command line, for the audit log.
    static func event(_ action: String, target: String, details: [String: String] = [:]) -> AuditEvent {
        AuditEvent(time: SystemTimeSource().now() * 1000, actor: "cli", action: action, target: target, details: details)
    }

    /// Opens the vault (for the pepper and the audit key), the accounts over the store, and the
    /// audit trail.
    static func withAccounts<Result>(
        data: DataDirectoryOption, database: DatabaseOption, _ body: (AccountService, AuditTrail) async throws -> Result
    ) async throws -> Result {
        return try await database.withVault(data: data) { session in
            let accounts = try await AccountService.open(store: session.store, credentials: session.credentials, hasher: try PasswordHasher())
            let trail = try await AuditTrail.open(store: session.store, credentials: session.credentials, logger: VaultCommand.logger)
            do {
                return try await body(accounts, trail)
            } catch let error as AccountError {
                throw error
            }
        }
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
        let issued = try await UsersCommand.withAccounts(data: data, database: database) { accounts, trail in
            let issued = try await accounts.issueSetupToken(createdBy: "cli")
            try await trail.append(UsersCommand.event("setup_token.issued", target: issued.record.id))
            return issued
        }
        print(issued.credential)
    }
}
