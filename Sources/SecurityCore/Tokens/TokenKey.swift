/// One HMAC key of a ``Keyring``: its id, its secret and what it may still do.
public struct TokenKey: Sendable, CustomStringConvertible {
    /// What a key may do.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Signs new tokens and verifies. A keyring has at most one.
        case primary
        /// Verifies tokens it signed earlier; signs nothing. The state after a rotation.
        case verifyOnly = "verify-only"
        /// Kept on record only: tokens it signed are refused.
        case retired
    }

    /// The shortest secret accepted: 32 bytes, the HMAC-SHA256 output size.
    public static let minimumSecretByteCount = 32

    /// The key's name, written into every token it signs.
    public let id: KeyID
    /// The key bytes. Redacted when printed.
    public let secret: SecureBytes
    /// What the key may do.
    public let status: Status
    /// When the key was made, in seconds since the epoch (informational).
    public let createdAt: Int64

    /// HMAC under `secret`, with the token format's domain-separation label already absorbed.
    let tokenMAC: HMACSHA256Key

    /// Makes a key. Throws ``TokenError`` with code `weakKey` if `secret` is shorter than 32 bytes.
    public init(id: KeyID, secret: SecureBytes, status: Status, createdAt: Int64 = 0) throws {
        guard secret.count >= Self.minimumSecretByteCount else {
            throw TokenError(.weakKey, "a token key needs at least \(Self.minimumSecretByteCount) bytes of secret")
        }
        self.id = id
        self.secret = secret
        self.status = status
        self.createdAt = createdAt
        self.tokenMAC = HMACSHA256Key(secret).prefixed(with: AgentTokenFormat.labelField)
    }

    /// A new key with 32 random bytes from the operating system.
    public static func generate(status: Status = .primary, now: Int64) throws -> TokenKey {
        try TokenKey(id: KeyID.generate(now: now), secret: .random(count: 32), status: status, createdAt: now)
    }

    /// The same key with another status.
    public func with(status: Status) -> TokenKey {
        // The secret was already checked when this key was made.
        TokenKey(id: id, secret: secret, status: status, createdAt: createdAt, tokenMAC: tokenMAC)
    }

    private init(
        id: KeyID, secret: SecureBytes, status: Status, createdAt: Int64, tokenMAC: HMACSHA256Key
    ) {
        self.id = id
        self.secret = secret
        self.status = status
        self.createdAt = createdAt
        self.tokenMAC = tokenMAC
    }

    public var description: String { "TokenKey(\(id), \(status.rawValue))" }
}
