import SecurityCore
import Synchronization

/// What the server knows, in memory, about users, API keys and devices: enough to authenticate a
/// request without a database round trip. ``AccountService`` fills it from the store at start and
/// every few seconds after, and at once for changes made through this server.
public final class AccessDirectory: Sendable {
    struct User: Sendable {
        let role: Role
        let sessionsNotBefore: Int64
    }

    struct Key: Sendable {
        let kind: AccessKeyRecord.Kind
        let role: Role
        let trust: DeviceTrust?
        let digest: [UInt8]
    }

    private struct State: Sendable {
        var users: [String: User] = [:]
        var keys: [String: Key] = [:]
    }

    let pepper: HMACSHA256Key
    private let state = Mutex(State())
    /// Compared against when an id is unknown, so an unknown id costs what a wrong secret costs.
    private let absentDigest = [UInt8](repeating: 0, count: HMACSHA256Key.tagByteCount)

    init(pepper: HMACSHA256Key) {
        self.pepper = pepper
    }

    /// Replaces everything with what the store holds.
    func load(users: [UserRecord], keys: [AccessKeyRecord]) {
        var fresh = State()
        for record in users { if let user = Self.user(record) { fresh.users[record.username] = user } }
        // Setup tokens authenticate nothing but onboarding, which checks them against the store.
        for record in keys where record.kind != .setup {
            if let key = Self.key(record) { fresh.keys[record.id] = key }
        }
        state.withLock { $0 = fresh }
    }

    func set(_ record: UserRecord) {
        let user = Self.user(record)
        state.withLock { $0.users[record.username] = user }
    }

    func removeUser(_ username: String) {
        _ = state.withLock { $0.users.removeValue(forKey: username) }
    }

    func add(_ record: AccessKeyRecord) {
        let key = Self.key(record)
        state.withLock { $0.keys[record.id] = key }
    }

    func removeKey(_ id: String) {
        _ = state.withLock { $0.keys.removeValue(forKey: id) }
    }

    func user(_ username: String) -> User? {
        state.withLock { $0.users[username] }
    }

    /// The principal an API key or device credential proves, a ``TokenError`` when it has their
    /// shape but is not valid, `nil` when it is something else. Setup tokens never authenticate.
    func authenticateKey(_ credential: String) -> Result<Principal, TokenError>? {
        guard let (kind, id, secret) = AccessKeyFormat.parse(credential) else { return nil }
        let key = state.withLock { $0.keys[id] }
        // The digest is computed and compared whether or not the id is known.
        let matches = ConstantTime.equals(AccessKeyFormat.digest(pepper: pepper, id: id, secret: secret), key?.digest ?? absentDigest)
        guard matches, let key, key.kind == kind, kind != .setup, let agent = try? AgentID(id) else {
            return .failure(TokenError(.invalidSignature, "unknown or wrong access key"))
        }
        let authentication: Principal.Authentication = kind == .device ? .device(key.trust ?? .anonymous) : .apiKey
        return .success(Principal(agent: agent, role: key.role, team: .none, authentication: authentication))
    }

    private static func user(_ record: UserRecord) -> User? {
        guard let role = try? Role(record.role) else { return nil }
        return User(role: role, sessionsNotBefore: record.sessionsNotBefore)
    }

    private static func key(_ record: AccessKeyRecord) -> Key? {
        guard let role = try? Role(record.role), record.digest.count == HMACSHA256Key.tagByteCount else { return nil }
        return Key(kind: record.kind, role: role, trust: record.trust, digest: record.digest)
    }
}

/// The pipeline's authenticator for everything but agent tokens: user sessions (agent-token
/// format, the session audience), API keys and devices.
struct AccountAuthenticator: CredentialAuthenticator {
    let sessions: TokenVerifier
    let directory: AccessDirectory

    func authenticate(_ credential: String) -> Result<Principal, TokenError>? {
        guard credential.utf8.starts(with: "ah1.".utf8) else { return directory.authenticateKey(credential) }
        let claims: AgentTokenClaims
        switch sessions.check(credential) {
        case .success(let verified): claims = verified
        case .failure(let error) where error.code == .wrongAudience: return nil
        case .failure(let error): return .failure(error)
        }
        guard let user = directory.user(claims.agent.rawValue) else {
            return .failure(TokenError(.revoked, "the user no longer exists"))
        }
        guard claims.issuedAt >= user.sessionsNotBefore else {
            return .failure(TokenError(.revoked, "the session was ended by a password change"))
        }
        // The role is the user's current one: a demotion takes effect on open sessions too.
        return .success(Principal(agent: claims.agent, role: user.role, team: claims.team, authentication: .userSession(claims)))
    }
}

/// The revocation list as session tokens see it: revoked token ids only. Revoking every token of
/// an agent must not end the sessions of a user who happens to have the same name.
struct SessionRevocations: RevocationList {
    let list: InMemoryRevocationList

    func isRevoked(_ claims: AgentTokenClaims) -> Bool { list.isRevoked(tokenID: claims.tokenID) }
    func revoke(tokenID: TokenID, expiresAt: Int64) { list.revoke(tokenID: tokenID, expiresAt: expiresAt) }
    func revokeAll(of agent: AgentID, issuedBefore: Int64) {}
}
