public import SecurityCore

/// Second factors for the portal's sign-in (Docs/SIGN_IN.md, "A second factor"): TOTP (RFC 6238)
/// with one-time recovery codes.
///
/// - A user needs one when their role is in ``requiredRoles``, when an operator required it of
///   them (`agenthost users totp --require`), or once they have set one up.
/// - The secret is sealed in the vault (owner `agenthost-totp`); the store keeps only whether it is
///   set up, the last step accepted (a code is never accepted twice, on any server) and the
///   recovery codes' digests (HMAC-SHA256 under the accounts' pepper).
public final class SecondFactors: Sendable {
    let store: any SecondFactorStore
    let credentials: CredentialService
    let pepper: HMACSHA256Key
    let clock: any TimeSource
    /// Roles that must sign in with a second factor.
    public let requiredRoles: Set<String>
    /// The issuer an authenticator app shows beside the account.
    let issuer: String

    /// How many recovery codes enrolment hands out.
    static let recoveryCodeCount = 10

    /// Second factors over `store`, their secrets in `credentials`' vault, the recovery codes'
    /// digests under `accounts`' pepper.
    public init(
        store: any SecondFactorStore, credentials: CredentialService, accounts: AccountService, requiredRoles: [String], issuer: String,
        clock: any TimeSource
    ) {
        self.store = store
        self.credentials = credentials
        self.pepper = accounts.directory.pepper
        self.requiredRoles = Set(requiredRoles)
        self.issuer = issuer
        self.clock = clock
    }

    /// Where a user stands after the right password.
    enum Need: Equatable {
        /// No second factor: signed in.
        case none
        /// Set up: a code (or a recovery code) is asked for.
        case code
        /// Required and not set up yet: set one up now.
        case enrolment
    }

    func need(of user: UserRecord) async throws -> Need {
        let record = try await store.secondFactor(of: user.username)
        if record?.enabledAt != nil { return .code }
        return record?.required == true || requiredRoles.contains(user.role) ? .enrolment : .none
    }

    /// A new TOTP secret for `username`, sealed in the vault until a code from it confirms it, and
    /// what the person adds to an authenticator app: the `otpauth://` URI and the secret in base32.
    /// Never called for a user whose TOTP is set up (it would replace the secret).
    func beginEnrolment(for username: String) async throws -> (uri: String, secret: String) {
        let secret = TOTP.generateSecret()
        try await credentials.setSecondFactorSecret(secret, for: username)
        let totp = try TOTP(secret: secret)
        return (totp.provisioningURI(issuer: issuer, account: username), Base32.encode(secret))
    }

    /// What was shown when enrolment began, again (after a wrong code).
    func enrolment(for username: String) async throws -> (uri: String, secret: String)? {
        try await credentials.withSecondFactorSecret(for: username) { secret in
            let totp = try TOTP(secret: secret)
            return (totp.provisioningURI(issuer: issuer, account: username), Base32.encode(secret))
        }
    }

    /// Confirms enrolment with a code from the new secret: TOTP is set up, and the recovery codes
    /// are returned, this once. `nil` when the code is wrong.
    func completeEnrolment(for username: String, code: String) async throws -> [String]? {
        let now = clock.now()
        guard
            let step = try await credentials.withSecondFactorSecret(
                for: username, { try TOTP(secret: $0).verify(code, at: now, after: nil) }),
            let step
        else { return nil }
        let codes = (0..<Self.recoveryCodeCount).map { _ in Self.newRecoveryCode() }
        guard try await store.enableSecondFactor(for: username, step: step, recoveryDigests: codes.map(digest), at: now) else {
            return nil
        }
        return codes
    }

    /// How a code proved the user: `totp`, `recovery`, or `nil` for a wrong (or reused) code.
    func verify(_ code: String, for username: String) async throws -> String? {
        let trimmed = code.filter { $0 != " " }
        if trimmed.count == 6, trimmed.allSatisfy(\.isASCII) {
            let now = clock.now()
            guard let record = try await store.secondFactor(of: username), record.enabledAt != nil,
                let step = try await credentials.withSecondFactorSecret(
                    for: username, { try TOTP(secret: $0).verify(trimmed, at: now, after: record.lastStep) }),
                let step
            else { return nil }
            // The store accepts each step once, whichever server asks first.
            return try await store.acceptSecondFactorStep(step, for: username) ? "totp" : nil
        }
        let normalized = trimmed.lowercased()
        guard normalized.utf8.count == 11 else { return nil }
        return try await store.useRecoveryCode(digest: digest(normalized), for: username) ? "recovery" : nil
    }

    /// A recovery code: ten base32 characters in two groups, `abcde-fghij` (50 random bits).
    static func newRecoveryCode() -> String {
        let text = Base32.encode(SecureBytes.random(count: 7)).lowercased().prefix(10)
        return text.prefix(5) + "-" + text.dropFirst(5)
    }

    /// The digest a recovery code is stored as.
    func digest(_ code: String) -> String {
        Hex.encode(pepper.authenticationCode(for: Array(("agenthost/recovery-code/v1:" + code).utf8)))
    }
}
