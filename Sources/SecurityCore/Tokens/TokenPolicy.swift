/// The rules minting and verification share: audience, lifetime limits and clock leeway.
public struct TokenPolicy: Sendable, Hashable {
    /// The audience written into minted tokens and required of verified ones.
    public let audience: String
    /// The kind whose prefix the tokens carry: ``CredentialKind/agentToken`` (`ah1.`), or another
    /// kind in the same format, such as ``CredentialKind/browserSession`` (`ahb1.`).
    public let kind: CredentialKind
    /// The longest lifetime a token may have, in seconds. Verification refuses tokens whose
    /// expiry is further from their issue time than this, so lowering it also shortens old tokens.
    public let maximumLifetime: Int64
    /// The lifetime minting uses when none is asked for, in seconds.
    public let defaultLifetime: Int64
    /// Clock skew tolerated, in seconds, on both expiry and issue time.
    public let leeway: Int64

    /// The highest ``maximumLifetime`` accepted: 366 days. Tokens are meant to expire.
    public static let longestMaximumLifetime: Int64 = 366 * 86_400

    /// Checks and builds a policy. Throws ``TokenError`` (`invalidConfiguration`) when the audience
    /// breaks the identifier rule, a lifetime is not positive, the default exceeds the maximum, or
    /// the maximum exceeds 366 days, or the leeway is negative or over five minutes.
    public init(
        audience: String = "agenthost",
        maximumLifetime: Duration = .seconds(7 * 86_400),
        defaultLifetime: Duration = .seconds(12 * 3_600),
        leeway: Duration = .seconds(30),
        kind: CredentialKind = .agentToken
    ) throws {
        do {
            try IdentifierRule.check(audience, kind: "audience")
        } catch {
            throw TokenError(.invalidConfiguration, "\(error)")
        }
        let maximum = maximumLifetime.components.seconds
        let standard = defaultLifetime.components.seconds
        let skew = leeway.components.seconds
        guard maximum > 0, standard > 0, standard <= maximum else {
            throw TokenError(.invalidConfiguration, "lifetimes must be positive and the default must not exceed the maximum")
        }
        guard maximum <= Self.longestMaximumLifetime else {
            throw TokenError(.invalidConfiguration, "the maximum token lifetime is at most 366 days")
        }
        guard skew >= 0, skew <= 300 else {
            throw TokenError(.invalidConfiguration, "leeway must be between 0 and 300 seconds")
        }
        self.audience = audience
        self.kind = kind
        self.maximumLifetime = maximum
        self.defaultLifetime = standard
        self.leeway = skew
    }
}
