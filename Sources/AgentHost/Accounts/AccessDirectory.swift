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

    /// The principal an access key of `kind` proves (an API key or a device), or the failure:
    /// unknown id, wrong secret or another kind. The digest is computed and compared whether or not
    /// the id is known, so an unknown id costs what a wrong secret costs.
    func authenticate(_ kind: AccessKeyRecord.Kind, id: String, secret: Substring) -> Result<Principal, AuthenticationFailure> {
        let key = state.withLock { $0.keys[id] }
        let matches = ConstantTime.equals(AccessKeyFormat.digest(pepper: pepper, id: id, secret: secret), key?.digest ?? absentDigest)
        guard matches, let key, key.kind == kind, let name = try? AgentID(id) else {
            return .failure(AuthenticationFailure(.invalidCredential, "unknown or wrong access key"))
        }
        let subject: Subject = kind == .device ? .device(name, key.trust ?? .anonymous) : .apiKey(name)
        return .success(Principal(subject: subject, role: key.role, team: .none))
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

/// The revocation list as session tokens see it: revoked token ids only. Revoking every token of
/// an agent must not end the sessions of a user who happens to have the same name.
struct SessionRevocations: RevocationList {
    let list: InMemoryRevocationList

    func isRevoked(_ claims: AgentTokenClaims) -> Bool { list.isRevoked(tokenID: claims.tokenID) }
    func revoke(tokenID: TokenID, expiresAt: Int64) { list.revoke(tokenID: tokenID, expiresAt: expiresAt) }
    func revokeAll(of agent: AgentID, issuedBefore: Int64) {}
}
