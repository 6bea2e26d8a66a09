/// A passkey a user registered: the credential's id and public key (a CBOR COSE_Key, never a
/// secret), its signature counter, and the name the user gave it.
public struct PasskeyRecord: Hashable, Sendable {
    /// The credential id, base64url: what the authenticator names the credential by.
    public let id: String
    /// The user it signs in.
    public let username: String
    /// The user's name for it ("work laptop").
    public let name: String
    /// The COSE_Key, CBOR-encoded, as registration returned it (``WebAuthnRelyingParty/Credential/publicKey``).
    public let publicKey: [UInt8]
    /// Its COSE algorithm.
    public let algorithm: Int64
    /// The highest signature counter seen.
    public let signCount: UInt32
    /// When it was registered and last used, in Unix seconds.
    public let createdAt: Int64
    public let lastUsedAt: Int64?

    public init(
        id: String, username: String, name: String, publicKey: [UInt8], algorithm: Int64, signCount: UInt32, createdAt: Int64,
        lastUsedAt: Int64?
    ) {
        self.id = id
        self.username = username
        self.name = name
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.signCount = signCount
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

/// Where passkeys live. SecurityStore implements it over SQLite and PostgreSQL; deleting a user
/// deletes their passkeys. Recording a use is one statement that moves the counter only forward,
/// so two servers given the same assertion at once accept it once.
public protocol PasskeyStore: Sendable {
    /// The passkey with credential id `id`, if any.
    func passkey(id: String) async throws -> PasskeyRecord?
    /// The passkeys of `username`, oldest first.
    func passkeys(of username: String) async throws -> [PasskeyRecord]
    /// Adds `record`; `false` when its credential id is registered already.
    func addPasskey(_ record: PasskeyRecord) async throws -> Bool
    /// Renames passkey `id` of `username`; whether there was one.
    func renamePasskey(id: String, of username: String, to name: String) async throws -> Bool
    /// Removes passkey `id` of `username`; whether there was one.
    func removePasskey(id: String, of username: String) async throws -> Bool
    /// Records a use of passkey `id` at `now` with counter `signCount`: only when the counter went
    /// up, or both it and the stored one are 0 (an authenticator that keeps none). Whether it was.
    func recordPasskeyUse(id: String, signCount: UInt32, at now: Int64) async throws -> Bool
}
