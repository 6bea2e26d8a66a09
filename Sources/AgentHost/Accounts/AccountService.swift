public import SecurityCore

/// What the account service needs from a store.
public typealias AccountStore = UserStore & AccessKeyStore

/// Users, API keys, devices and the onboarding setup token: created, checked and listed here,
/// kept in the store, and mirrored into an ``AccessDirectory`` that authenticates requests.
///
/// Secrets are never stored: passwords as Argon2id hashes (rehashed at login when the hasher's
/// parameters change), key and device secrets as HMAC-SHA256 under a pepper that lives sealed in
/// the vault. A key's secret is returned once, when it is created.
public final class AccountService: Sendable {
    public let users: any UserStore
    public let keys: any AccessKeyStore
    /// What requests are authenticated against.
    public let directory: AccessDirectory
    /// Hashes and verifies passwords.
    public let hasher: PasswordHasher
    let clock: any TimeSource
    /// A hash of a random password, verified against when a login names an unknown user, so the
    /// answer takes as long as for a known one.
    private let unknownUserHash: String

    /// The shortest password accepted when one is set, in characters.
    public static let minimumPasswordLength = 12
    /// The longest password accepted, in bytes.
    public static let maximumPasswordBytes = 1024
    /// How long a setup token stays usable.
    public static let setupTokenLifetime: Int64 = 24 * 3600

    /// Opens the accounts over `store`, loading (or creating, on first use) the pepper from the
    /// vault of `credentials`. Throws when the store or the vault cannot be read: without the
    /// pepper no key can be checked, and there is no fallback.
    public static func open(
        store: any AccountStore, credentials: CredentialService, hasher: PasswordHasher,
        clock: any TimeSource = SystemTimeSource()
    ) async throws -> AccountService {
        let pepper = try await loadPepper(credentials)
        let unknownUserHash = try await hasher.hash(password: SecureBytes.random(count: 24).base64URLEncoded())
        let service = AccountService(
            users: store, keys: store, directory: AccessDirectory(pepper: pepper), hasher: hasher, clock: clock,
            unknownUserHash: unknownUserHash
        )
        try await service.refresh()
        return service
    }

    init(
        users: any UserStore, keys: any AccessKeyStore, directory: AccessDirectory, hasher: PasswordHasher, clock: any TimeSource,
        unknownUserHash: String
    ) {
        self.users = users
        self.keys = keys
        self.directory = directory
        self.hasher = hasher
        self.clock = clock
        self.unknownUserHash = unknownUserHash
    }

    /// Reloads users and keys from the store, so changes made through another server or the
    /// command line take effect here.
    public func refresh() async throws {
        directory.load(users: try await users.users(), keys: try await keys.accessKeys())
    }

    // MARK: Users

    /// Checks a user name: 1-128 of `A-Z a-z 0-9 _ -`.
    public static func checkUsername(_ username: String) throws(AccountError) {
        guard (try? AgentID(username)) != nil else {
            throw AccountError(.invalidUsername, "a user name is 1-128 of A-Z a-z 0-9 _ -")
        }
    }

    /// Checks a new password: at least ``minimumPasswordLength`` characters, at most
    /// ``maximumPasswordBytes`` bytes, no control characters.
    public static func checkNewPassword(_ password: String) throws(AccountError) {
        guard password.count >= minimumPasswordLength else {
            throw AccountError(.weakPassword, "a password needs at least \(minimumPasswordLength) characters")
        }
        guard password.utf8.count <= maximumPasswordBytes else {
            throw AccountError(.weakPassword, "a password may be at most \(maximumPasswordBytes) bytes")
        }
        guard !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw AccountError(.weakPassword, "a password may not contain control characters")
        }
    }

    /// Adds a user; `false` when the name is taken. Throws ``AccountError`` for a bad name, role
    /// or password.
    public func addUser(username: String, role: String, password: String) async throws -> Bool {
        try Self.checkUsername(username)
        guard (try? Role(role)) != nil else { throw AccountError(.invalidRole, "a role is 1-128 of A-Z a-z 0-9 _ -") }
        try Self.checkNewPassword(password)
        let now = clock.now()
        let record = UserRecord(
            username: username, role: role, passwordHash: try await hasher.hash(password: password), createdAt: now,
            sessionsNotBefore: now
        )
        guard try await users.createUser(record) else { return false }
        directory.set(record)
        return true
    }

    /// Adds a user who signs in only through a single sign-on provider: no password, so password
    /// sign-in refuses them as it refuses an unknown name; `false` when the name is taken.
    public func addFederatedUser(username: String, role: String) async throws -> Bool {
        try Self.checkUsername(username)
        guard (try? Role(role)) != nil else { throw AccountError(.invalidRole, "a role is 1-128 of A-Z a-z 0-9 _ -") }
        let now = clock.now()
        let record = UserRecord(username: username, role: role, passwordHash: "", createdAt: now, sessionsNotBefore: now)
        guard try await users.createUser(record) else { return false }
        directory.set(record)
        return true
    }

    /// Sets a new password and ends the user's open sessions; whether the user exists.
    public func setPassword(username: String, password: String) async throws -> Bool {
        try Self.checkNewPassword(password)
        let hash = try await hasher.hash(password: password)
        guard try await users.setPassword(username: username, hash: hash, at: clock.now()) else { return false }
        if let record = try await users.user(named: username) { directory.set(record) }
        return true
    }

    /// Gives a user another role and ends their open sessions; whether the user exists. Throws
    /// ``AccountError`` for a role that is not 1-128 of `A-Z a-z 0-9 _ -`.
    public func setRole(username: String, role: String) async throws -> Bool {
        guard (try? Role(role)) != nil else { throw AccountError(.invalidRole, "a role is 1-128 of A-Z a-z 0-9 _ -") }
        guard try await users.setRole(username: username, role: role, at: clock.now()) else { return false }
        if let record = try await users.user(named: username) { directory.set(record) }
        return true
    }

    /// Deletes a user, ending their sessions on this server at once (on others within a refresh).
    public func deleteUser(username: String) async throws -> Bool {
        guard try await users.deleteUser(named: username) else { return false }
        directory.removeUser(username)
        return true
    }

    /// The user if `password` is theirs; `nil` otherwise (unknown user or wrong password, which
    /// take the same time). A hash made with other parameters than the hasher's is replaced.
    public func login(username: String, password: String) async throws -> UserRecord? {
        guard password.utf8.count <= Self.maximumPasswordBytes, (try? AgentID(username)) != nil else {
            _ = try? await hasher.verify(password: "", against: unknownUserHash)
            return nil
        }
        guard let user = try await users.user(named: username) else {
            _ = try await hasher.verify(password: password, against: unknownUserHash)
            return nil
        }
        guard !user.passwordHash.isEmpty else {
            // A single sign-on user has no password: the same work and answer as an unknown name.
            _ = try await hasher.verify(password: password, against: unknownUserHash)
            return nil
        }
        guard try await hasher.verify(password: password, against: user.passwordHash) else { return nil }
        if (try? hasher.needsRehash(user.passwordHash)) ?? true {
            let fresh = try await hasher.hash(password: password)
            _ = try await users.replacePasswordHash(username: username, expected: user.passwordHash, with: fresh)
        }
        directory.set(user)
        return user
    }

    // MARK: API keys, devices, setup tokens

    /// A key just created: the record and, this once, the credential text.
    public struct IssuedKey: Sendable, CustomStringConvertible {
        public let record: AccessKeyRecord
        /// `<id>.<secret>`: what the client sends as `Authorization: Bearer …`.
        public let credential: String
        /// The secret alone (the part after the dot).
        public var secret: Substring { credential[credential.index(after: credential.firstIndex(of: ".")!)...] }

        public var description: String { "IssuedKey(\(record.id), redacted)" }
    }

    /// Creates an API key, device or setup token. `name` is a label; `createdBy` a subject.
    public func createKey(
        kind: AccessKeyRecord.Kind, name: String, role: Role, trust: DeviceTrust? = nil, createdBy: String
    ) async throws -> IssuedKey {
        let (id, secret) = AccessKeyFormat.generate(kind)
        let record = AccessKeyRecord(
            id: id, kind: kind, name: name, role: role.rawValue, trust: kind == .device ? (trust ?? .basic) : nil,
            digest: AccessKeyFormat.digest(pepper: directory.pepper, id: id, secret: secret), createdBy: createdBy,
            createdAt: clock.now()
        )
        try await keys.putAccessKey(record)
        if kind != .setup { directory.add(record) }
        return IssuedKey(record: record, credential: id + "." + secret)
    }

    /// Every key of `kind`, by id. Digests stay in the records; never send them out.
    public func keys(of kind: AccessKeyRecord.Kind) async throws -> [AccessKeyRecord] {
        try await keys.accessKeys().filter { $0.kind == kind }
    }

    /// Deletes key `id` if it is of `kind`; whether it did.
    public func deleteKey(id: String, kind: AccessKeyRecord.Kind) async throws -> Bool {
        guard id.hasPrefix(AccessKeyFormat.prefix(kind)) else { return false }
        directory.removeKey(id)
        return try await keys.deleteAccessKey(id: id)
    }

    /// A new setup token, replacing any earlier one; printed once, usable once, for
    /// ``setupTokenLifetime``.
    public func issueSetupToken(createdBy: String) async throws -> IssuedKey {
        for old in try await keys(of: .setup) { _ = try await keys.deleteAccessKey(id: old.id) }
        let role = try Role("owner")
        return try await createKey(kind: .setup, name: "onboarding", role: role, createdBy: createdBy)
    }

    /// Checks and uses up a setup token: `true` exactly once for a valid, unexpired token, also
    /// when two requests present it at the same moment. Returns the used record so a caller
    /// whose work then fails can ``restoreSetupToken(_:)`` it.
    public func consumeSetupToken(_ text: String) async throws -> AccessKeyRecord? {
        guard let (kind, id, secret) = AccessKeyFormat.parse(text), kind == .setup else { return nil }
        let digest = AccessKeyFormat.digest(pepper: directory.pepper, id: id, secret: secret)
        guard let record = try await keys.accessKeys().first(where: { $0.id == id && $0.kind == .setup }),
            ConstantTime.equals(digest, record.digest),
            clock.now() - record.createdAt <= Self.setupTokenLifetime
        else { return nil }
        return try await keys.deleteAccessKey(id: id) ? record : nil
    }

    /// Puts back a setup token whose onboarding could not be stored.
    public func restoreSetupToken(_ record: AccessKeyRecord) async throws {
        try await keys.putAccessKey(record)
    }

    // MARK: Pepper

    /// The pepper: 32 random bytes sealed in the vault as `agenthost/access-key-pepper`.
    static func loadPepper(_ credentials: CredentialService) async throws -> HMACSHA256Key {
        try await credentials.systemKey(named: "access-key-pepper")
    }
}

/// Why an account operation was refused. Never carries a password or a key.
public struct AccountError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidUsername = "invalid_username"
            case invalidRole = "invalid_role"
            case weakPassword = "weak_password"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Not a user name: 1-128 of `A-Z a-z 0-9 _ -`.
        public static let invalidUsername = Code(.invalidUsername)
        /// A role that is not known.
        public static let invalidRole = Code(.invalidRole)
        /// A password shorter than 12 characters.
        public static let weakPassword = Code(.weakPassword)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
