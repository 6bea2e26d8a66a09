/// What a verified agent token says: who it was minted for, by which key, and for how long.
public struct AgentTokenClaims: Hashable, Sendable {
    /// The token format version; 1.
    public let version: UInt8
    /// The key that signed the token.
    public let keyID: KeyID
    /// The agent the token was minted for.
    public let agent: AgentID
    /// The agent's role.
    public let role: Role
    /// The agent's team (possibly empty).
    public let team: Team
    /// Who the token is for (the service that accepts it).
    public let audience: String
    /// When the token was minted, in seconds since the epoch; it is not valid before then.
    public let issuedAt: Int64
    /// When the token stops being valid, in seconds since the epoch.
    public let expiresAt: Int64
    /// The token's random id, for revocation and audit.
    public let tokenID: TokenID

    /// Assembles claims. Used by ``TokenMinter`` and by tests that build tokens by hand.
    public init(
        version: UInt8 = 1, keyID: KeyID, agent: AgentID, role: Role, team: Team, audience: String,
        issuedAt: Int64, expiresAt: Int64, tokenID: TokenID
    ) {
        self.version = version
        self.keyID = keyID
        self.agent = agent
        self.role = role
        self.team = team
        self.audience = audience
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
    }
}

/// A freshly minted token and its claims.
///
/// ``token`` is a bearer credential: whoever holds it is the agent until it expires. This type's
/// `description` leaves it out, so printing a `MintedToken` does not leak it.
public struct MintedToken: Sendable, CustomStringConvertible {
    /// The token text to hand to the agent.
    public let token: String
    /// What the token says.
    public let claims: AgentTokenClaims

    public var description: String {
        "MintedToken(id: \(claims.tokenID), agent: \(claims.agent), expires: \(claims.expiresAt), token: redacted)"
    }
}
