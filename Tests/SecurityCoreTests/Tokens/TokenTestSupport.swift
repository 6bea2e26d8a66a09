@testable import SecurityCore

/// A fixed key and clock so tokens are reproducible.
struct TokenFixture {
    static let start: Int64 = 1_800_000_000
    let clock = ManualTimeSource(TokenFixture.start)
    let key: TokenKey
    let keyring: Keyring
    let policy: TokenPolicy
    let revocations: InMemoryRevocationList

    init(keyID: String = "k-test", policy: TokenPolicy? = nil) throws {
        key = try TokenKey(id: KeyID(keyID), secret: SecureBytes(copying: (0..<32).map { UInt8($0) }), status: .primary)
        keyring = try Keyring(keys: [key])
        self.policy = try policy ?? TokenPolicy()
        revocations = InMemoryRevocationList(clock: clock)
    }

    var minter: TokenMinter { TokenMinter(keyring: keyring, policy: policy, clock: clock) }
    var verifier: TokenVerifier { TokenVerifier(keyring: keyring, policy: policy, clock: clock, revocations: revocations) }

    func mint(agent: String = "builder-7", role: String = "developer", team: String = "core", lifetime: Duration? = nil) throws
        -> MintedToken
    {
        try minter.mint(agent: AgentID(agent), role: Role(role), team: Team(team), lifetime: lifetime)
    }
}
