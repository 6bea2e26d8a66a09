import SecurityCore
import Testing

struct XChaCha20Poly1305Tests {
    @Test func wycheproofVectors() throws {
        let file = try Wycheproof.load("xchacha20_poly1305_test", as: Wycheproof.AEADGroup.self)
        var valid = 0, invalid = 0, rejectedShapes = 0
        for group in file.testGroups {
            for test in group.tests {
                let key = try XChaCha20Poly1305Key(SecureBytes(copying: hex(test.key)))
                let box = SealedBox(nonce: hex(test.iv), ciphertext: hex(test.ct), tag: hex(test.tag))
                let aad = hex(test.aad)
                guard group.ivSize == 192, group.tagSize == 128 else {
                    #expect(throws: CryptoError.self, "tc \(test.tcId)") { try key.open(box, authenticating: aad) }
                    rejectedShapes += 1
                    continue
                }
                if test.result == "valid" {
                    let sealed = try key.seal(hex(test.msg), nonce: hex(test.iv), authenticating: aad)
                    #expect(sealed.ciphertext == hex(test.ct) && sealed.tag == hex(test.tag), "tc \(test.tcId)")
                    #expect(try key.open(box, authenticating: aad) == SecureBytes(copying: hex(test.msg)), "tc \(test.tcId)")
                    valid += 1
                } else {
                    #expect(throws: CryptoError.self, "tc \(test.tcId)") { try key.open(box, authenticating: aad) }
                    invalid += 1
                }
            }
        }
        #expect(valid > 0 && invalid > 0 && rejectedShapes > 0)
        #expect(valid + invalid + rejectedShapes == file.numberOfTests)
    }

    @Test func roundTripWithRandomNonce() throws {
        let key = try XChaCha20Poly1305Key(.random(count: 32))
        let box = try key.seal([UInt8](), authenticating: Array("ad".utf8))
        #expect(box.nonce.count == 24 && box.ciphertext.isEmpty)
        #expect(try key.open(box, authenticating: Array("ad".utf8)).count == 0)
        #expect(throws: CryptoError.self) { try key.open(box, authenticating: Array("ae".utf8)) }
        #expect(throws: CryptoError.self) { try XChaCha20Poly1305Key(.random(count: 16)) }
    }
}
