@testable import SecurityCore
import Testing

struct KeyringTests {
    func key(_ id: String, _ status: TokenKey.Status) throws -> TokenKey {
        try TokenKey(id: KeyID(id), secret: .random(count: 32), status: status)
    }

    @Test func rotationKeepsOldTokensValidUntilRetired() throws {
        let fixture = try TokenFixture(keyID: "k-old")
        let oldToken = try fixture.mint().token
        let rotated = try fixture.keyring.rotated(to: key("k-new", .primary))
        #expect(rotated.primary?.id.rawValue == "k-new")
        #expect(rotated.keys.first { $0.id.rawValue == "k-old" }?.status == .verifyOnly)

        let verifier = TokenVerifier(keyring: rotated, policy: fixture.policy, clock: fixture.clock)
        #expect(try verifier.verify(oldToken).keyID.rawValue == "k-old")
        let newToken = try TokenMinter(keyring: rotated, policy: fixture.policy, clock: fixture.clock)
            .mint(agent: AgentID("a"), role: Role("r")).token
        #expect(try verifier.verify(newToken).keyID.rawValue == "k-new")

        let retired = try rotated.retiring(KeyID("k-old"))
        let afterRetire = TokenVerifier(keyring: retired, policy: fixture.policy, clock: fixture.clock)
        let error = #expect(throws: TokenError.self) { try afterRetire.verify(oldToken) }
        #expect(error?.code == .unknownKey)
        #expect(throws: Never.self) { try afterRetire.verify(newToken) }
    }

    @Test func unknownKeyIsRefusedWithoutFallback() throws {
        let fixture = try TokenFixture(keyID: "k-a")
        let token = try fixture.mint().token
        // Same secret, different id: the verifier must not try other keys.
        let renamed = try Keyring(keys: [TokenKey(id: KeyID("k-b"), secret: fixture.key.secret, status: .primary)])
        let error = #expect(throws: TokenError.self) {
            try TokenVerifier(keyring: renamed, policy: fixture.policy, clock: fixture.clock).verify(token)
        }
        #expect(error?.code == .unknownKey)
        // Same id, different secret: a signature failure.
        let resecreted = try Keyring(keys: [key("k-a", .primary)])
        let mismatch = #expect(throws: TokenError.self) {
            try TokenVerifier(keyring: resecreted, policy: fixture.policy, clock: fixture.clock).verify(token)
        }
        #expect(mismatch?.code == .invalidSignature)
    }

    @Test func invariants() throws {
        #expect(throws: TokenError.self) { try Keyring(keys: [key("k-1", .primary), key("k-1", .verifyOnly)]) }
        #expect(throws: TokenError.self) { try Keyring(keys: [key("k-1", .primary), key("k-2", .primary)]) }
        let ring = try Keyring(keys: [key("k-1", .primary), key("k-2", .verifyOnly)])
        #expect(throws: TokenError.self) { try ring.retiring(KeyID("k-1")) }
        #expect(throws: TokenError.self) { try ring.retiring(KeyID("k-9")) }
        #expect(ring.verificationKey(for: try KeyID("k-2")) != nil)
        #expect(try ring.retiring(KeyID("k-2")).verificationKey(for: KeyID("k-2")) == nil)
    }

    @Test func weakKeysAreRefused() throws {
        let error = #expect(throws: TokenError.self) { try TokenKey(id: KeyID("k"), secret: .random(count: 31), status: .primary) }
        #expect(error?.code == .weakKey)
    }

    @Test func descriptionsHideSecrets() throws {
        let secret = SecureBytes(copying: Array("0123456789abcdef0123456789abcdef".utf8))
        let ring = try Keyring(keys: [TokenKey(id: KeyID("k-1"), secret: secret, status: .primary)])
        #expect(!"\(ring)".contains("0123456789"))
        #expect("\(ring)".contains("k-1"))
    }

    @Test func generatedKeyIDs() throws {
        let id = try KeyID.generate(now: 1_795_305_600)  // 2026-11-22
        #expect(id.rawValue.hasPrefix("k-20261122-") && id.rawValue.count == 19)
        #expect(throws: IdentityError.self) { try KeyID(String(repeating: "k", count: 65)) }
    }
}
