/// A user who logs in with a password: the name, the role, and an Argon2id hash.
///
/// `description` leaves the hash out: it is not the password, but it is what an attacker would
/// try to crack offline, so it stays out of logs.
public struct UserRecord: Hashable, Sendable, CustomStringConvertible {
    /// The user name (1-128 of `A-Z a-z 0-9 _ -`).
    public let username: String
    /// The role the user acts with.
    public let role: String
    /// The Argon2id hash string (`$argon2id$…`).
    public let passwordHash: String
    /// When the user was created, in Unix seconds.
    public let createdAt: Int64
    /// Session tokens issued before this time are no longer accepted (set when the password or
    /// the role changes), in Unix seconds.
    public let sessionsNotBefore: Int64

    public init(username: String, role: String, passwordHash: String, createdAt: Int64, sessionsNotBefore: Int64) {
        self.username = username
        self.role = role
        self.passwordHash = passwordHash
        self.createdAt = createdAt
        self.sessionsNotBefore = sessionsNotBefore
    }

    public var description: String { "UserRecord(\(username), role \(role))" }
}

/// Where users live. SecurityStore implements it over SQLite and PostgreSQL.
public protocol UserStore: Sendable {
    /// Adds `user`; `false` when a user of that name exists (nothing changes then).
    func createUser(_ user: UserRecord) async throws -> Bool
    /// The user called `username`, if any.
    func user(named username: String) async throws -> UserRecord?
    /// Every user, by name.
    func users() async throws -> [UserRecord]
    /// Replaces the hash of `username` only if it is still `expected` (a login that rehashes
    /// under new parameters must not undo a password change made meanwhile); whether it did.
    func replacePasswordHash(username: String, expected: String, with hash: String) async throws -> Bool
    /// Sets a new password hash and ends every session issued before `now`; whether the user exists.
    func setPassword(username: String, hash: String, at now: Int64) async throws -> Bool
    /// Gives the user another role and ends every session issued before `now`; whether the user
    /// exists.
    func setRole(username: String, role: String, at now: Int64) async throws -> Bool
    /// Deletes the user; whether there was one.
    func deleteUser(named username: String) async throws -> Bool
}
