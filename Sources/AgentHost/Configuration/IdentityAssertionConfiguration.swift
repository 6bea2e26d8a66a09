/// The signed identity that forward auth hands the platform (`X-Auth-Assertion`,
/// Docs/FORWARD_AUTH.md): who signs it and how long it lasts.
public struct IdentityAssertionConfiguration: Sendable, Equatable {
    /// The assertion's `iss`: what a platform checks it was issued by.
    public var issuer: String
    /// How long an assertion is valid; never past the credential it was made from.
    public var lifetime: Duration

    /// The shortest and longest lifetime allowed: 10 seconds to 1 hour.
    public static let lifetimeRange = Duration.seconds(10)...Duration.seconds(3_600)

    /// `issuer` "agenthost" and one minute, by default.
    public init(issuer: String = "agenthost", lifetime: Duration = .seconds(60)) {
        self.issuer = issuer
        self.lifetime = lifetime
    }

    /// Refuses a lifetime out of ``lifetimeRange`` and an issuer that is empty, longer than 256
    /// characters, or holds a control character.
    public func validate() throws {
        guard Self.lifetimeRange.contains(lifetime) else {
            throw AgentHostError(.configuration, "identity_assertion_ttl must be from 10s to 1h")
        }
        guard (1...256).contains(issuer.count), !issuer.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw AgentHostError(.configuration, "identity_assertion_issuer must be 1-256 characters without control characters")
        }
    }
}
