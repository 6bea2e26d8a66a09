/// A user's second factor, as the store keeps it: whether one is required, whether TOTP is set up
/// (its secret is sealed in the vault, never here), the last time step accepted, and the digests
/// of the unused recovery codes.
public struct SecondFactorRecord: Hashable, Sendable, CustomStringConvertible {
    /// The user.
    public let username: String
    /// Whether the user must set up a second factor at the next sign-in, whatever their role.
    public let required: Bool
    /// When TOTP was set up, in Unix seconds; `nil` while it is not (yet).
    public let enabledAt: Int64?
    /// The last TOTP time step accepted: a code of that step or an earlier one is refused.
    public let lastStep: Int64
    /// The digests (hex) of the recovery codes not used yet.
    public let recoveryDigests: [String]

    public init(username: String, required: Bool, enabledAt: Int64?, lastStep: Int64, recoveryDigests: [String]) {
        self.username = username
        self.required = required
        self.enabledAt = enabledAt
        self.lastStep = lastStep
        self.recoveryDigests = recoveryDigests
    }

    public var description: String { "SecondFactorRecord(\(username), \(enabledAt == nil ? "not set up" : "TOTP"))" }
}

/// Where second factors live. SecurityStore implements it over SQLite and PostgreSQL. Accepting a
/// step and using a recovery code are single statements, so two servers given the same code at
/// once accept it once.
public protocol SecondFactorStore: Sendable {
    /// The user's record, if any.
    func secondFactor(of username: String) async throws -> SecondFactorRecord?
    /// Requires (or stops requiring) a second factor of `username`; a record is made if needed.
    func setSecondFactorRequired(_ required: Bool, for username: String) async throws
    /// Marks TOTP set up for `username` at `now`, with `step` accepted and the recovery codes'
    /// digests; `false` when it already was.
    func enableSecondFactor(for username: String, step: Int64, recoveryDigests: [String], at now: Int64) async throws -> Bool
    /// Accepts TOTP step `step` for `username` if it is later than the last one accepted; whether
    /// it was.
    func acceptSecondFactorStep(_ step: Int64, for username: String) async throws -> Bool
    /// Uses the recovery code whose digest is `digest`; whether it was there (it is gone now).
    func useRecoveryCode(digest: String, for username: String) async throws -> Bool
    /// Forgets the user's second factor (set up again at the next sign-in if required); whether
    /// there was one.
    func removeSecondFactor(for username: String) async throws -> Bool
}
