@testable import SecurityCore
import Testing

struct HMACAlgorithmTests {
    // RFC 2202 (HMAC-SHA-1) and RFC 4231 (HMAC-SHA-256/512), test cases 1 and 2.
    // Copyright (C) The Internet Society (1997) and The IETF Trust (2005); the test vectors are
    // reproduced from the RFCs under the IETF Trust's Legal Provisions (https://trustee.ietf.org/license-info).
    static let cases: [(key: [UInt8], message: String, sha1: String, sha256: String, sha512: String)] = [
        (
            [UInt8](repeating: 0x0B, count: 20), "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        ),
        (
            Array("Jefe".utf8), "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        ),
    ]

    @Test func rfc2202And4231Vectors() {
        for test in Self.cases {
            let key = SecureBytes(copying: test.key)
            let message = Array(test.message.utf8)
            #expect(HMACAlgorithm.sha1.authenticationCode(key: key, message: message) == hex(test.sha1))
            #expect(HMACAlgorithm.sha256.authenticationCode(key: key, message: message) == hex(test.sha256))
            #expect(HMACAlgorithm.sha512.authenticationCode(key: key, message: message) == hex(test.sha512))
        }
    }

    @Test func sha256AgreesWithWycheproof() throws {
        let file = try Wycheproof.load("hmac_sha256_test", as: Wycheproof.MACGroup.self)
        var checked = 0
        for group in file.testGroups where group.tagSize == 256 {
            for test in group.tests {
                let computed = HMACAlgorithm.sha256.authenticationCode(key: SecureBytes(copying: hex(test.key)), message: hex(test.msg))
                #expect((computed == hex(test.tag)) == (test.result == "valid"), "tc \(test.tcId)")
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    @Test func tagLengths() {
        for algorithm in HMACAlgorithm.allCases {
            #expect(algorithm.authenticationCode(key: SecureBytes(copying: [1]), message: []).count == algorithm.tagByteCount)
        }
    }
}
