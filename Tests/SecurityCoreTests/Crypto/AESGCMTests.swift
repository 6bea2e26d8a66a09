@testable import SecurityCore
import Testing

struct AESGCMTests {
    /// Every vector. For valid vectors each key object is used twice per direction, so the second
    /// use runs on a context that already finished (sealing) or failed (opening) a message under
    /// another nonce or tag.
    @Test func wycheproofVectors() throws {
        let file = try Wycheproof.load("aes_gcm_test", as: Wycheproof.AEADGroup.self)
        var supported = 0, valid = 0, invalid = 0, rejectedShapes = 0
        for group in file.testGroups {
            for test in group.tests {
                let key = SecureBytes(copying: hex(test.key))
                let box = SealedBox(nonce: hex(test.iv), ciphertext: hex(test.ct), tag: hex(test.tag))
                let aad = hex(test.aad)
                guard group.keySize == 256, group.ivSize == 96, group.tagSize == 128 else {
                    // Other sizes are outside this API: they must be refused cleanly.
                    #expect(throws: CryptoError.self, "tc \(test.tcId)") {
                        try AESGCMKey(key).open(box, authenticating: aad)
                    }
                    rejectedShapes += 1
                    continue
                }
                supported += 1
                let aes = try AESGCMKey(key)
                if test.result == "valid" {
                    valid += 1
                    // (Only for valid vectors: some invalid ones are a valid tag with one bit flipped.)
                    var flippedTag = box
                    flippedTag.tag[15] ^= 0x80
                    #expect(throws: CryptoError.self, "tc \(test.tcId)") { try aes.open(flippedTag, authenticating: aad) }
                    var otherNonce = hex(test.iv)
                    otherNonce[11] ^= 0x55
                    let first = try aes.seal(hex(test.msg), nonce: otherNonce, authenticating: aad)
                    let sealed = try aes.seal(hex(test.msg), nonce: hex(test.iv), authenticating: aad)
                    #expect(sealed.ciphertext == hex(test.ct), "tc \(test.tcId)")
                    #expect(sealed.tag == hex(test.tag), "tc \(test.tcId)")
                    #expect(first.tag != sealed.tag, "tc \(test.tcId)")
                    let opened = try aes.open(box, authenticating: aad)
                    #expect(opened == SecureBytes(copying: hex(test.msg)), "tc \(test.tcId)")
                } else {
                    invalid += 1
                    #expect(throws: CryptoError.self, "tc \(test.tcId)") { try aes.open(box, authenticating: aad) }
                }
            }
        }
        #expect(supported > 50 && valid > 0 && invalid > 0 && rejectedShapes > 0)
        #expect(supported + rejectedShapes == file.numberOfTests)
    }

    @Test func roundTripAndTamperDetection() throws {
        let aes = try AESGCMKey(.random(count: 32))
        let aad = Array("record-42".utf8)
        for size in [0, 1, 15, 16, 17, 4096, 100_000] {
            let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let box = try aes.seal(plaintext, authenticating: aad)
            #expect(box.nonce.count == 12 && box.tag.count == 16 && box.ciphertext.count == size)
            #expect(try aes.open(box, authenticating: aad) == SecureBytes(copying: plaintext))

            var badTag = box
            badTag.tag[0] ^= 1
            #expect(throws: CryptoError.self) { try aes.open(badTag, authenticating: aad) }
            var badNonce = box
            badNonce.nonce[11] ^= 0x80
            #expect(throws: CryptoError.self) { try aes.open(badNonce, authenticating: aad) }
            #expect(throws: CryptoError.self) { try aes.open(box, authenticating: Array("record-43".utf8)) }
            if size > 0 {
                var badCiphertext = box
                badCiphertext.ciphertext[size / 2] ^= 4
                #expect(throws: CryptoError.self) { try aes.open(badCiphertext, authenticating: aad) }
            }
        }
    }

    @Test func wrongKeyFailsAndNoncesDiffer() throws {
        let first = try AESGCMKey(.random(count: 32))
        let second = try AESGCMKey(.random(count: 32))
        let box = try first.seal(Array("secret".utf8), authenticating: [UInt8]())
        let error = #expect(throws: CryptoError.self) { try second.open(box, authenticating: [UInt8]()) }
        #expect(error?.code == .authenticationFailed)
        let again = try first.seal(Array("secret".utf8), authenticating: [UInt8]())
        #expect(again.nonce != box.nonce)
        // seal draws from the key's counter: same fixed part, low 64 bits one apart.
        let counter = { (nonce: [UInt8]) in nonce[4...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        #expect(again.nonce[..<4] == box.nonce[..<4])
        #expect(counter(again.nonce) &- counter(box.nonce) == 1)
    }

    @Test func noncesNeverRepeatWithinAKey() throws {
        let sequence = try NonceSequence()
        let nonces = (0..<10_000).map { _ in sequence.next() }
        #expect(Set(nonces).count == nonces.count)
        #expect(nonces.allSatisfy { $0.count == 12 })
        // The counter occupies the low eight bytes: consecutive nonces differ by one there.
        let low = nonces.prefix(2).map { $0[4...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        #expect(low[1] &- low[0] == 1)
        #expect(nonces[0][..<4] == nonces[9_999][..<4])
        // Two key objects start at independent random points.
        #expect(try NonceSequence().next() != NonceSequence().next())
    }

    @Test(arguments: [0, 16, 24, 31, 33, 64])
    func rejectsKeySizes(size: Int) {
        let error = #expect(throws: CryptoError.self) { try AESGCMKey(.random(count: size)) }
        #expect(error?.code == .invalidKeySize)
    }

    @Test func rejectsNonceAndTagSizes() throws {
        let aes = try AESGCMKey(.random(count: 32))
        #expect(throws: CryptoError.self) { try aes.seal([1], nonce: [UInt8](repeating: 0, count: 16), authenticating: [UInt8]()) }
        let box = try aes.seal([1, 2, 3], authenticating: [UInt8]())
        for tagLength in [0, 12, 15, 17] {
            let short = SealedBox(nonce: box.nonce, ciphertext: box.ciphertext, tag: Array(repeating: 0, count: tagLength))
            let error = #expect(throws: CryptoError.self) { try aes.open(short, authenticating: [UInt8]()) }
            #expect(error?.code == .invalidTagSize)
        }
    }

    @Test func combinedFormRoundTrips() throws {
        let aes = try AESGCMKey(.random(count: 32))
        let box = try aes.seal(Array("hello".utf8), authenticating: [UInt8]())
        let parsed = try SealedBox(combined: box.combined, nonceByteCount: 12, tagByteCount: 16)
        #expect(parsed == box)
        #expect(throws: CryptoError.self) { try SealedBox(combined: [1, 2, 3], nonceByteCount: 12, tagByteCount: 16) }
    }

    @Test func oneKeyServesManyTasksAtOnce() async throws {
        let aes = try AESGCMKey(.random(count: 32))
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let message = Array("message \(index)".utf8)
                    guard let box = try? aes.seal(message, authenticating: [UInt8(index)]),
                        let opened = try? aes.open(box, authenticating: [UInt8(index)])
                    else { return false }
                    return opened == SecureBytes(copying: message)
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }

    @Test func genericAndArrayEntryPointsAgree() throws {
        // Arrays take a non-generic path; other sequences the generic one. Both must read the same bytes.
        let aes = try AESGCMKey(SecureBytes(copying: [UInt8](repeating: 9, count: 32)))
        let plaintext = Array("the quick brown fox".utf8)
        let viaArray = try aes.seal(plaintext, authenticating: Array("record-1".utf8))
        #expect(try aes.open(viaArray, authenticating: "record-1".utf8) == SecureBytes(copying: plaintext))
        let viaSequence = try aes.seal(plaintext[...], authenticating: "record-1".utf8)
        #expect(try aes.open(viaSequence, authenticating: Array("record-1".utf8)) == SecureBytes(copying: plaintext))
        #expect(throws: CryptoError.self) { try aes.open(viaSequence, authenticating: "record-2".utf8) }
    }
}
