@testable import SecurityCore
import Testing

struct AgentTokenTests {
    @Test func mintThenVerify() throws {
        let fixture = try TokenFixture()
        let minted = try fixture.mint(lifetime: .seconds(3600))
        #expect(minted.token.hasPrefix("ah1."))
        #expect(minted.token.utf8.count <= 1024)
        let claims = try fixture.verifier.verify(minted.token)
        #expect(claims == minted.claims)
        #expect(claims.agent.rawValue == "builder-7" && claims.role.rawValue == "developer" && claims.team.rawValue == "core")
        #expect(claims.issuedAt == TokenFixture.start && claims.expiresAt == TokenFixture.start + 3600)
        #expect(claims.keyID.rawValue == "k-test" && claims.audience == "agenthost" && claims.version == 1)
        #expect(!"\(minted)".contains(minted.token))
    }

    /// Claims of every length come back exactly, on both sides of the 15 bytes a small string holds.
    @Test(arguments: [1, 14, 15, 16, 17, 64, 128])
    func identifiersOfEveryLengthRoundTrip(length: Int) throws {
        let fixture = try TokenFixture()
        let characters = Array("abcXYZ019_-")
        let text = String((0..<length).map { characters[$0 % characters.count] })
        for (agent, role, team) in [(text, "r", ""), ("a", text, "t"), ("a", "r", text)] {
            let minted = try fixture.mint(agent: agent, role: role, team: team)
            let claims = try fixture.verifier.verify(minted.token)
            #expect(claims == minted.claims)
            #expect(claims.agent.rawValue == agent && claims.role.rawValue == role && claims.team.rawValue == team)
        }
    }

    @Test func tokenIDsAreRandom() throws {
        let fixture = try TokenFixture()
        let ids = Set(try (0..<100).map { _ in try fixture.mint().claims.tokenID })
        #expect(ids.count == 100)
    }

    /// The exact bytes of Docs/TOKENS.md's worked example, so the format cannot drift silently.
    @Test func goldenToken() throws {
        let fixture = try TokenFixture()
        let claims = AgentTokenClaims(
            keyID: fixture.key.id, agent: try AgentID("builder-7"), role: try Role("developer"), team: try Team("core"),
            audience: "agenthost", issuedAt: 1_800_000_000, expiresAt: 1_800_043_200,
            tokenID: try #require(TokenID(hex: "00112233445566778899aabbccddeeff"))
        )
        let body = AgentTokenFormat.body(for: claims)
        #expect(
            body
                == hex(
                    "0001" + "01" + "0006" + "6b2d74657374" + "0009" + "6275696c6465722d37" + "0009" + "646576656c6f706572"
                        + "0004" + "636f7265" + "0009" + "6167656e74686f7374" + "0008" + "000000006b49d200"
                        + "0008" + "000000006b4a7ac0" + "0010" + "00112233445566778899aabbccddeeff"
                ))
        let token = AgentTokenFormat.encode(claims, key: fixture.key)
        #expect(token == Self.goldenToken)
        fixture.clock.set(1_800_000_100)
        #expect(try fixture.verifier.verify(token) == claims)
    }

    static let goldenToken =
        "ah1.AAEBAAZrLXRlc3QACWJ1aWxkZXItNwAJZGV2ZWxvcGVyAARjb3JlAAlhZ2VudGhvc3QACAAAAABrSdIAAAgAAAAAa0p6wAAQABEiM0RVZneImaq7zN3u_w."
        + "h0V3dkeD12kWLogjdliDHHDpWJ-_fcA-lyPKnEanfjQ"

    @Test func lengthPrefixesKeepIdentitiesApart() throws {
        let fixture = try TokenFixture()
        let first = try fixture.mint(agent: "ab", role: "c")
        let second = try fixture.mint(agent: "a", role: "bc")
        #expect(AgentTokenFormat.body(for: first.claims) != AgentTokenFormat.body(for: second.claims))
        // Moving the boundary between fields inside a signed body breaks the signature.
        let firstParts = first.token.split(separator: ".")
        let secondParts = second.token.split(separator: ".")
        let spliced = "ah1.\(secondParts[1]).\(firstParts[2])"
        #expect(throws: TokenError.self) { try fixture.verifier.verify(spliced) }
    }

    @Test func everySingleCharacterChangeIsRefused() throws {
        let fixture = try TokenFixture()
        let token = Array(try fixture.mint().token)
        for index in token.indices {
            for replacement in ["A", "_", "-", "z"] where String(token[index]) != replacement {
                var changed = token
                changed[index] = Character(replacement)
                #expect(throws: TokenError.self, "position \(index)") { try fixture.verifier.verify(String(changed)) }
            }
        }
    }

    @Test(arguments: [
        "", "ah1.", "ah1..", "Bearer", "ah2.AAAA.AAAA", "ah1.AAEB.", String(repeating: "a", count: 10_240),
        "ah1." + String(repeating: "A", count: 10_240) + "." + String(repeating: "A", count: 43),
        "ah1.é." + String(repeating: "A", count: 43), "ah1.\u{0}." + String(repeating: "A", count: 43),
        "ah1.AAEB=." + String(repeating: "A", count: 43), "ah1.AAEB.AAAA.AAAA",
    ])
    func malformedInputIsRefused(text: String) throws {
        let fixture = try TokenFixture()
        let error = #expect(throws: TokenError.self) { try fixture.verifier.verify(text) }
        #expect(error?.code == .malformed || error?.code == .unsupportedVersion)
    }

    @Test func aTagThatIsNotBase64URLIsMalformed() throws {
        let fixture = try TokenFixture()
        let token = try fixture.mint().token
        let forged = token.dropLast(43) + String(repeating: "!", count: 43)
        let error = #expect(throws: TokenError.self) { try fixture.verifier.verify(String(forged)) }
        #expect(error?.code == .malformed)
    }

    @Test func truncatedAndExtendedTokensAreRefused() throws {
        let fixture = try TokenFixture()
        let token = try fixture.mint().token
        for cut in [1, 2, 10, 43, 44, 60, token.count - 5] {
            #expect(throws: TokenError.self) { try fixture.verifier.verify(String(token.dropLast(cut))) }
        }
        #expect(throws: TokenError.self) { try fixture.verifier.verify(token + "A") }
        #expect(throws: TokenError.self) { try fixture.verifier.verify(" " + token) }
    }

    @Test func expiryHonoursLeeway() throws {
        let fixture = try TokenFixture()
        let token = try fixture.mint(lifetime: .seconds(60)).token
        fixture.clock.advance(by: 60 + 29)
        #expect(throws: Never.self) { try fixture.verifier.verify(token) }
        fixture.clock.advance(by: 1)
        let error = #expect(throws: TokenError.self) { try fixture.verifier.verify(token) }
        #expect(error?.code == .expired)
    }

    @Test func notValidBeforeIssueTime() throws {
        let fixture = try TokenFixture()
        let token = try fixture.mint().token
        fixture.clock.advance(by: -30)
        #expect(throws: Never.self) { try fixture.verifier.verify(token) }
        fixture.clock.advance(by: -1)
        let error = #expect(throws: TokenError.self) { try fixture.verifier.verify(token) }
        #expect(error?.code == .notYetValid)
    }

    @Test func lifetimeLimits() throws {
        let fixture = try TokenFixture(policy: TokenPolicy(maximumLifetime: .seconds(7200), defaultLifetime: .seconds(3600)))
        #expect(try fixture.mint().claims.expiresAt == TokenFixture.start + 3600)
        for bad in [Duration.seconds(0), .seconds(-5), .seconds(7201)] {
            let error = #expect(throws: TokenError.self) { try fixture.mint(lifetime: bad) }
            #expect(error?.code == .invalidLifetime)
        }
        // A token minted under a looser policy is refused once the maximum is lowered.
        let long = try fixture.mint(lifetime: .seconds(7200)).token
        let stricter = TokenVerifier(
            keyring: fixture.keyring, policy: try TokenPolicy(maximumLifetime: .seconds(3600), defaultLifetime: .seconds(60)),
            clock: fixture.clock
        )
        let error = #expect(throws: TokenError.self) { try stricter.verify(long) }
        #expect(error?.code == .lifetimeExceeded)
    }

    /// Authentic tokens with extreme times are refused, never a trap on overflow.
    @Test(
        arguments: [
            (Int64.min, Int64.max), (Int64.max, Int64.min), (0, Int64.max), (Int64.min, 0),
            (Int64.max - 10, Int64.max), (Int64.min, Int64.min + 10),
        ] as [(Int64, Int64)])
    func extremeTimesAreRefusedWithoutOverflow(issuedAt: Int64, expiresAt: Int64) throws {
        let fixture = try TokenFixture()
        let claims = AgentTokenClaims(
            keyID: fixture.key.id, agent: try AgentID("a"), role: try Role("r"), team: .none, audience: "agenthost",
            issuedAt: issuedAt, expiresAt: expiresAt, tokenID: TokenID(high: 1, low: 2)
        )
        let token = AgentTokenFormat.encode(claims, key: fixture.key)
        #expect(throws: TokenError.self) { try fixture.verifier.verify(token) }
    }

    @Test func audienceMustMatch() throws {
        let fixture = try TokenFixture()
        let token = try fixture.mint().token
        let other = TokenVerifier(keyring: fixture.keyring, policy: try TokenPolicy(audience: "other-service"), clock: fixture.clock)
        let error = #expect(throws: TokenError.self) { try other.verify(token) }
        #expect(error?.code == .wrongAudience)
    }

    @Test func policyRefusesBadConfiguration() {
        #expect(throws: TokenError.self) { try TokenPolicy(audience: "") }
        #expect(throws: TokenError.self) { try TokenPolicy(audience: "a b") }
        #expect(throws: TokenError.self) { try TokenPolicy(maximumLifetime: .seconds(10), defaultLifetime: .seconds(20)) }
        #expect(throws: TokenError.self) { try TokenPolicy(leeway: .seconds(-1)) }
        #expect(throws: TokenError.self) { try TokenPolicy(leeway: .seconds(301)) }
        #expect(throws: TokenError.self) { try TokenPolicy(maximumLifetime: .seconds(367 * 86_400)) }
        #expect(throws: TokenError.self) { try TokenPolicy(maximumLifetime: .seconds(Int64.max)) }
        #expect(throws: Never.self) { try TokenPolicy(maximumLifetime: .seconds(366 * 86_400)) }
    }

    @Test func revocationByTokenAndByAgent() throws {
        let fixture = try TokenFixture()
        let first = try fixture.mint()
        let second = try fixture.mint()
        fixture.revocations.revoke(tokenID: first.claims.tokenID, expiresAt: first.claims.expiresAt)
        let error = #expect(throws: TokenError.self) { try fixture.verifier.verify(first.token) }
        #expect(error?.code == .revoked)
        #expect(throws: Never.self) { try fixture.verifier.verify(second.token) }

        fixture.clock.advance(by: 10)
        fixture.revocations.revokeAll(of: try AgentID("builder-7"), issuedBefore: fixture.clock.now())
        #expect(throws: TokenError.self) { try fixture.verifier.verify(second.token) }
        let other = try fixture.mint(agent: "someone-else")
        #expect(throws: Never.self) { try fixture.verifier.verify(other.token) }
        fixture.clock.advance(by: 1)
        let fresh = try fixture.mint()
        #expect(throws: Never.self) { try fixture.verifier.verify(fresh.token) }
    }

    @Test func revokedEntriesAreForgottenAfterExpiry() throws {
        let clock = ManualTimeSource(1000)
        let list = InMemoryRevocationList(clock: clock)
        for index in 0..<1023 { list.revoke(tokenID: TokenID(high: 0, low: UInt64(index)), expiresAt: 1500) }
        clock.set(2000)
        list.revoke(tokenID: TokenID(high: 1, low: 0), expiresAt: 3000)
        #expect(list.revokedTokenCount == 1)
    }

    @Test func mintingWithoutAPrimaryKeyFails() throws {
        let fixture = try TokenFixture()
        let verifyOnly = try Keyring(keys: [fixture.key.with(status: .verifyOnly)])
        let error = #expect(throws: TokenError.self) {
            try TokenMinter(keyring: verifyOnly, policy: fixture.policy).mint(agent: AgentID("a"), role: Role("r"))
        }
        #expect(error?.code == .noSigningKey)
        let empty = try Keyring(keys: [])
        #expect(throws: TokenError.self) {
            try TokenMinter(keyring: empty, policy: fixture.policy).mint(agent: AgentID("a"), role: Role("r"))
        }
    }

    @Test func tokenIDHex() throws {
        let id = try #require(TokenID(hex: "00112233445566778899AABBCCDDEEFF"))
        #expect(id.hex == "00112233445566778899aabbccddeeff")
        #expect(TokenID(hex: "0011") == nil)
        #expect(TokenID(hex: String(repeating: "g", count: 32)) == nil)
    }
}
