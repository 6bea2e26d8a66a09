/// Mints agent tokens with the keyring's primary key.
///
/// Fails closed: with no primary key there is no token, only ``TokenError`` with code
/// `noSigningKey`. There is no default or placeholder secret.
///
/// ```swift
/// let minter = TokenMinter(keyring: keyring, policy: try TokenPolicy())
/// let minted = try minter.mint(agent: AgentID("builder-7"), role: Role("developer"), team: .none)
/// send(minted.token)
/// ```
public struct TokenMinter: Sendable {
    /// The keys; the primary one signs.
    public let keyring: Keyring
    /// Audience and lifetime rules.
    public let policy: TokenPolicy
    private let clock: any TimeSource

    /// Creates a minter. Having no primary key is not an error here but at ``mint(agent:role:team:lifetime:)``.
    public init(keyring: Keyring, policy: TokenPolicy, clock: any TimeSource = SystemTimeSource()) {
        self.keyring = keyring
        self.policy = policy
        self.clock = clock
    }

    /// Mints a token for `agent`, valid from now for `lifetime` (the policy's default when `nil`).
    ///
    /// Throws ``TokenError`` with `noSigningKey` when the keyring has no primary key, and
    /// `invalidLifetime` when the lifetime is not positive or exceeds the policy's maximum.
    public func mint(agent: AgentID, role: Role, team: Team = .none, lifetime: Duration? = nil) throws -> MintedToken {
        guard let key = keyring.primary else {
            throw TokenError(.noSigningKey, "no primary signing key is configured, so no token can be minted")
        }
        let seconds = lifetime?.components.seconds ?? policy.defaultLifetime
        guard seconds > 0 else {
            throw TokenError(.invalidLifetime, "a token lifetime must be at least one second")
        }
        guard seconds <= policy.maximumLifetime else {
            throw TokenError(.invalidLifetime, "a token lifetime may be at most \(policy.maximumLifetime) seconds")
        }
        let now = clock.now()
        let claims = AgentTokenClaims(
            keyID: key.id, agent: agent, role: role, team: team, audience: policy.audience,
            issuedAt: now, expiresAt: now + seconds, tokenID: try TokenID.random()
        )
        return MintedToken(token: AgentTokenFormat.encode(claims, key: key, kind: policy.kind), claims: claims)
    }
}
