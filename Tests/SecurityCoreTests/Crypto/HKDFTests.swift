import SecurityCore
import Testing

struct HKDFTests {
    @Test func wycheproofVectors() throws {
        let file = try Wycheproof.load("hkdf_sha256_test", as: Wycheproof.HKDFGroup.self)
        var valid = 0, invalid = 0
        for group in file.testGroups {
            for test in group.tests {
                let derive = {
                    try HKDF.deriveKey(
                        from: SecureBytes(copying: hex(test.ikm)), salt: hex(test.salt), info: hex(test.info), count: test.size)
                }
                if test.result == "valid" {
                    #expect(try derive() == SecureBytes(copying: hex(test.okm)), "tc \(test.tcId)")
                    valid += 1
                } else {
                    let error = #expect(throws: CryptoError.self, "tc \(test.tcId)") { try derive() }
                    #expect(error?.code == .outputTooLarge)
                    invalid += 1
                }
            }
        }
        #expect(valid > 0 && invalid > 0 && valid + invalid == file.numberOfTests)
    }
}
