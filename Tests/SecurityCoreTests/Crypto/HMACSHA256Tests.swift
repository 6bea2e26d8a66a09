@testable import SecurityCore
import Testing

struct HMACSHA256Tests {
    @Test func wycheproofVectors() throws {
        let file = try Wycheproof.load("hmac_sha256_test", as: Wycheproof.MACGroup.self)
        var checked = 0
        for group in file.testGroups {
            for test in group.tests {
                let key = HMACSHA256Key(copying: hex(test.key))
                let message = hex(test.msg)
                let tag = hex(test.tag)
                let computed = key.authenticationCode(for: message)
                #expect(computed.count == 32)
                if group.tagSize == 256 {
                    #expect(key.isValidAuthenticationCode(tag, for: message) == (test.result == "valid"), "tc \(test.tcId)")
                    #expect((computed == tag) == (test.result == "valid"), "tc \(test.tcId)")
                } else {
                    // Truncated tags are never accepted by the full-length check...
                    #expect(!key.isValidAuthenticationCode(tag, for: message), "tc \(test.tcId)")
                    // ...while the valid ones are the prefix of the full tag.
                    #expect((Array(computed.prefix(tag.count)) == tag) == (test.result == "valid"), "tc \(test.tcId)")
                }
                checked += 1
            }
        }
        #expect(checked == file.numberOfTests)
    }

    @Test func rfc4231Case2() {
        // RFC 4231 test case 2: key "Jefe".
        let key = HMACSHA256Key(copying: Array("Jefe".utf8))
        let tag = key.authenticationCode(for: Array("what do ya want for nothing?".utf8))
        #expect(tag == hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    }

    @Test func preparedKeyIsReusableAndConcurrent() async {
        let key = HMACSHA256Key(copying: Array("Jefe".utf8))
        let expected = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let all = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<32 {
                group.addTask { key.authenticationCode(for: Array("what do ya want for nothing?".utf8)) == expected }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(all)
    }

    @Test func prefixedKeyEqualsTagOfConcatenation() {
        // The token MAC absorbs its label once; its tag must equal the plain HMAC of label || body.
        let key = HMACSHA256Key(copying: Array("Jefe".utf8))
        for prefix in [[UInt8](), Array("agenthost/agent-token/v1".utf8), [UInt8](repeating: 7, count: 130)] {
            let message = Array("what do ya want for nothing?".utf8)
            let prefixed = prefix.withUnsafeBytes { key.prefixed(with: $0) }
            #expect(prefixed.authenticationCode(for: message) == key.authenticationCode(for: prefix + message))
        }
    }
}
