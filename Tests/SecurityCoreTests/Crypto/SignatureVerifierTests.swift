import Foundation
import SecurityCore
import Testing

/// Ed25519 against Wycheproof; ES256 and RS256 through the WebAuthn vectors
/// (WebAuthnRelyingPartyTests), and the keys each refuses here.
struct SignatureVerifierTests {
    struct EdDSAGroup: Decodable {
        struct PublicKey: Decodable { let pk: String }
        struct Test: Decodable {
            let tcId: Int
            let msg: String
            let sig: String
            let result: String
        }
        let publicKey: PublicKey
        let tests: [Test]
    }

    @Test func wycheproofEd25519() throws {
        let file = try Wycheproof.load("ed25519_test", as: EdDSAGroup.self)
        var checked = 0
        for group in file.testGroups {
            let key = try SignatureVerifier(ed25519: hex(group.publicKey.pk))
            for test in group.tests {
                let valid = key.isValidSignature(hex(test.sig), for: hex(test.msg))
                #expect(valid == (test.result == "valid"), "tc \(test.tcId)")
                checked += 1
            }
        }
        #expect(checked == file.numberOfTests)
    }

    @Test func keysThatCannotBeUsedAreRefused() throws {
        #expect(throws: CryptoError.self) { try SignatureVerifier(ed25519: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: CryptoError.self) {
            try SignatureVerifier(p256X: [UInt8](repeating: 1, count: 32), y: [UInt8](repeating: 2, count: 32))
        }
        #expect(throws: CryptoError.self) {
            try SignatureVerifier(p256X: [UInt8](repeating: 1, count: 31), y: [UInt8](repeating: 2, count: 32))
        }
        // 1024 bits is too weak; a zero modulus or exponent is not a key.
        #expect(throws: CryptoError.self) {
            try SignatureVerifier(rsaModulus: [0x80] + [UInt8](repeating: 1, count: 127), exponent: [1, 0, 1])
        }
        #expect(throws: CryptoError.self) { try SignatureVerifier(rsaModulus: [UInt8](repeating: 0, count: 256), exponent: [1, 0, 1]) }
        #expect(throws: CryptoError.self) { try SignatureVerifier(rsaModulus: [0xC1] + [UInt8](repeating: 7, count: 255), exponent: []) }
    }
}
