/// Verifies agent tokens: the audience it names (compared, not trusted), then the signature in
/// constant time, then lifetime, expiry, issue time and revocation (Docs/TOKENS.md).
///
/// Every failure is a ``TokenError``; nothing about a refused token is trusted or returned.
///
/// ```swift
/// let verifier = TokenVerifier(keyring: keyring, policy: policy, revocations: revocations)
/// let claims = try verifier.verify(presentedToken)
/// ```
public struct TokenVerifier: Sendable {
    /// The keys that may have signed a token.
    public var keyring: Keyring { storage.keyring }
    /// Audience, lifetime and leeway rules.
    public var policy: TokenPolicy { storage.policy }

    /// Everything, behind one reference: read in place on every verification, where copying the
    /// clock and the revocation list out of the struct cost a retain and a release each.
    private final class Storage: Sendable {
        let keyring: Keyring
        let policy: TokenPolicy
        let clock: any TimeSource
        let revocations: (any RevocationList)?
        /// The policy's kind's prefix, read without copying the policy.
        let prefix: [UInt8]

        init(keyring: Keyring, policy: TokenPolicy, clock: any TimeSource, revocations: (any RevocationList)?) {
            self.keyring = keyring
            self.policy = policy
            self.prefix = policy.kind.prefixBytes
            self.clock = clock
            self.revocations = revocations
        }
    }

    private let storage: Storage

    /// Creates a verifier. `revocations` may be `nil` when nothing is ever revoked.
    public init(
        keyring: Keyring, policy: TokenPolicy, clock: any TimeSource = SystemTimeSource(),
        revocations: (any RevocationList)? = nil
    ) {
        storage = Storage(keyring: keyring, policy: policy, clock: clock, revocations: revocations)
    }

    /// The claims of `token` if it is authentic, meant for this audience, within its lifetime and
    /// not revoked; otherwise throws ``TokenError``.
    public func verify(_ token: String) throws -> AgentTokenClaims {
        try check(token).get()
    }

    /// ``verify(_:)`` as a `Result` whose failure is typed, for callers that switch on it.
    public func check(_ token: String) -> Result<AgentTokenClaims, TokenError> {
        check(bytes: Array(token.utf8)[...])
    }

    /// ``check(_:)`` of a token's UTF-8 bytes, such as a ``PresentedCredential``'s.
    package func check(bytes token: ArraySlice<UInt8>) -> Result<AgentTokenClaims, TokenError> {
        var authenticated: AgentTokenClaims?
        if let error = AgentTokenFormat.authenticate(
            token, keyring: storage.keyring, audience: storage.policy.audience, prefix: storage.prefix, into: &authenticated)
        {
            return .failure(error)
        }
        // Moved out, not copied: a copy of the claims retains each of their strings.
        guard let claims = authenticated.take() else {
            return .failure(TokenError(.malformed, "token could not be read"))
        }
        // Overflow-checked: the fields are authentic but may still hold any 64-bit value.
        let (lifetime, overflow) = claims.expiresAt.subtractingReportingOverflow(claims.issuedAt)
        guard lifetime > 0, !overflow, lifetime <= storage.policy.maximumLifetime else {
            return .failure(TokenError(.lifetimeExceeded, "token lifetime exceeds the configured maximum"))
        }
        let now = storage.clock.now()
        let leeway = storage.policy.leeway
        guard now - leeway < claims.expiresAt else {
            return .failure(TokenError(.expired, "token has expired"))
        }
        guard claims.issuedAt <= now + leeway else {
            return .failure(TokenError(.notYetValid, "token is not valid yet"))
        }
        if storage.revocations?.isRevoked(claims) == true {
            return .failure(TokenError(.revoked, "token has been revoked"))
        }
        return .success(claims)
    }
}
