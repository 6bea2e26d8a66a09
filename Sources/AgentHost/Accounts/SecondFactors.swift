public import SecurityCore

/// Second factors for the portal's sign-in (Docs/SIGN_IN.md, "A second factor"): TOTP (RFC 6238)
/// with one-time recovery codes, and passkeys (``Passkeys``).
///
/// - A user needs one when their role is in ``requiredRoles``, when an operator required it of
///   them (`agenthost users totp --require`), or once they have set one up (TOTP or a passkey).
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
    /// Passkeys, as a second factor and to sign in alone; `nil` without a passkey store.
    public let passkeys: Passkeys?

    /// How many recovery codes enrolment hands out.
    static let recoveryCodeCount = 10

    /// Second factors over `store`, their secrets in `credentials`' vault, the recovery codes'
    /// digests under `accounts`' pepper, passkeys in `passkeys` when given.
    public init(
        store: any SecondFactorStore, credentials: CredentialService, accounts: AccountService, requiredRoles: [String], issuer: String,
        clock: any TimeSource, passkeys: (any PasskeyStore)? = nil
    ) {
        self.passkeys = passkeys.map { Passkeys(store: $0, accounts: accounts, clock: clock) }
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
        /// Set up: a code (or a recovery code) when `totp`, a passkey when `passkey`.
        case factor(totp: Bool, passkey: Bool)
        /// Required and not set up yet: set one up now.
        case enrolment

        /// Whether a passkey may be the second factor.
        var hasPasskey: Bool {
            if case .factor(_, let passkey) = self { return passkey }
            return false
        }
    }

    func need(of user: UserRecord) async throws -> Need {
        try await need(username: user.username, role: user.role)
    }

    func need(username: String, role: String) async throws -> Need {
        let record = try await store.secondFactor(of: username)
        let totp = record?.enabledAt != nil
        let passkey = try await passkeys?.store.passkeys(of: username).isEmpty == false
        if totp || passkey { return .factor(totp: totp, passkey: passkey) }
        return mustHave(role: role, record) ? .enrolment : .none
    }

    /// Whether a user of `role` must sign in with a second factor: the role needs one, or an
    /// operator required it of them (`record`).
    func mustHave(role: String, _ record: SecondFactorRecord?) -> Bool {
        record?.required == true || requiredRoles.contains(role)
    }

    /// How many second factors `username` has: TOTP when it is on, and each passkey.
    func count(of username: String) async throws -> Int {
        let totp = try await store.secondFactor(of: username)?.enabledAt != nil ? 1 : 0
        return totp + (try await passkeys?.store.passkeys(of: username).count ?? 0)
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
