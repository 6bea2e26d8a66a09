package import SecurityCore
import SecurityStore

extension AgentHostCLI {
    /// A new password read from standard input: UTF-8, without its trailing newline, long enough.
    package static func password(from input: [UInt8]) throws -> String {
        var bytes = withoutTrailingNewline(input)
        defer { SecureBytes.wipe(&bytes) }
        guard let password = String(validating: bytes, as: UTF8.self) else {
            throw AgentHostError(.invalidInput, "the password must be UTF-8 text")
        }
        try AccountService.checkNewPassword(password)
        return password
    }

    /// Opens the vault (for the pepper and the audit key), the accounts over the store, and the
    /// audit trail, and runs `body` with them.
    static func withAccounts<Result>(at place: Place, _ body: (AccountService, AuditTrail) async throws -> Result) async throws -> Result {
        try await place.withAudit { session, trail in
            let accounts = try await AccountService.open(
                store: session.store, credentials: session.credentials, hasher: try PasswordHasher())
            return try await body(accounts, trail)
        }
    }

    /// Adds a user; throws ``AgentHostError`` (conflict) when the name is taken.
    package static func addUser(username: String, role: String, password: String, at place: Place) async throws {
        let added = try await withAccounts(at: place) { accounts, trail in
            guard try await accounts.addUser(username: username, role: role, password: password) else { return false }
            try await trail.append(event("user.added", target: "user:" + username, details: ["role": role]))
            return true
        }
        guard added else { throw AgentHostError(.conflict, "a user called \(username) already exists") }
    }

    /// Sets a user's password, which ends their sessions; throws ``AgentHostError`` (not found).
    package static func setPassword(username: String, password: String, at place: Place) async throws {
        let found = try await withAccounts(at: place) { accounts, trail in
            guard try await accounts.setPassword(username: username, password: password) else { return false }
            try await trail.append(event("user.password_set", target: "user:" + username))
            return true
        }
        guard found else { throw AgentHostError(.notFound, "there is no user called \(username.prefix(128))") }
    }

    /// Gives a user another role, which ends their sessions; throws ``AgentHostError`` (not found).
    package static func setRole(username: String, role: String, at place: Place) async throws {
        let found = try await withAccounts(at: place) { accounts, trail in
            guard try await accounts.setRole(username: username, role: role) else { return false }
            try await trail.append(event("user.role_set", target: "user:" + username, details: ["role": role]))
            return true
        }
        guard found else { throw AgentHostError(.notFound, "there is no user called \(username.prefix(128))") }
    }

    /// Requires (or stops requiring) a second factor of a user at the portal's sign-in, and with
    /// `reset` forgets the one set up (the user sets one up again at the next sign-in, if required).
    /// Throws ``AgentHostError`` (not found).
    package static func setSecondFactor(username: String, required: Bool?, reset: Bool, at place: Place) async throws {
        let found = try await place.withAudit { session, trail in
            guard try await session.store.user(named: username) != nil else { return false }
            if let required {
                try await session.store.setSecondFactorRequired(required, for: username)
                try await trail.append(
                    event("user.second_factor_required", target: "user:" + username, details: ["required": "\(required)"]))
            }
            if reset, try await session.store.removeSecondFactor(for: username) {
                try await trail.append(event("user.second_factor_reset", target: "user:" + username))
            }
            return true
        }
        guard found else { throw AgentHostError(.notFound, "there is no user called \(username.prefix(128))") }
    }

    /// Deletes a user; throws ``AgentHostError`` (not found).
    package static func deleteUser(username: String, at place: Place) async throws {
        let deleted = try await withAccounts(at: place) { accounts, trail in
            guard try await accounts.deleteUser(username: username) else { return false }
            try await trail.append(event("user.deleted", target: "user:" + username))
            return true
        }
        guard deleted else { throw AgentHostError(.notFound, "there is no user called \(username.prefix(128))") }
    }

    /// Every user: name, role and creation time.
    package static func users(at place: Place) async throws -> [UserRecord] {
        try await place.withStore { store in try await store.users() }
    }

    /// A new one-time setup token (replacing any earlier one), recorded in the audit log.
    package static func issueSetupToken(at place: Place) async throws -> String {
        try await withAccounts(at: place) { accounts, trail in
            let issued = try await accounts.issueSetupToken(createdBy: "cli")
            try await trail.append(event("setup_token.issued", target: issued.record.id))
            return issued.credential
        }
    }
}
