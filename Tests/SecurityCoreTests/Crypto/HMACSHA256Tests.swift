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
            let prefixed = key.prefixed(with: prefix)
            #expect(prefixed.authenticationCode(for: message) == key.authenticationCode(for: prefix + message))
        }
    }

    /// Tags from Python's `hmac` module (key bytes 0...31, message byte i = 7i + 3), at every length
    /// where the padding changes shape: the message ends just before, at and after the point where
    /// the 0x80 byte and the 64-bit length no longer fit in the last block. Wycheproof's lengths skip
    /// these, and the padding is done in this package, not by OpenSSL.
    static let paddingBoundaries: [(length: Int, tag: String)] = [
        (0, "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb"),
        (1, "2a24d008789d3c74daf5e02636c675df8f09ec5e740c1bdf6305f9261f7b1c32"),
        (54, "87156b59166394ca19a986836bb88e998767e280f3205096c41d2fc701bdd687"),
        (55, "e66a4fff985be53712fd4aa0892c3b80983e902b6caa3e98ed1186c0a89c7afe"),
        (56, "b2727065101957bf27ce9b50104c6062e0c376b71df36cb336d26948103afd3b"),
        (57, "182e429b428c7cbfcd036ea01e92a0c04025dc81ddf2619921d1a056963e4ce5"),
        (63, "47604389fafb6ab7907b9c09e23589ff0203384382bf7bddebd6130a37ffa379"),
        (64, "b46ff212a3a07583c8dd50c674c6cff3558e6f7b5b97081f7c73101a2b0086fb"),
        (65, "006baa702522d812e0ea3ab7d7f7368b0f87a1abf446187d6ae02d0d8d450dcf"),
        (118, "af909c11fab822aaadff2446dcac0526bffddf1bc5fa2f94e63286ed27d48d3e"),
        (119, "e5012dfb2a972eda915425f71385b14565a9fb0de92f0bd37705574119694a53"),
        (120, "aad486123ad591a6e8376bd81ae6f479ab9a2a309f08b24d65220e2572e5b45f"),
        (127, "737bf24b356aeed0a29bbcf886a0aea0b0e02ca5a1de3fb0602620e826f42878"),
        (128, "32580bd113595450aeaa291ce4db3db6b529206e7b04e16bd0408224e29d61b6"),
        (129, "59829dbfbf4e8c8680f11979c7d338f7c6331caa5eabc072bfbab1cf87a737bb"),
        (183, "0710c6f24e2dc7c479bcb91787e327116e99409a08dda7dbb1da1f01cceee7aa"),
        (184, "51b9a98c5bd97cbd52760e1e247040ec1d8d65a888f098d9ff41fab51ed61fb5"),
        (191, "a40a9a74e0c17f2df53af5dde96211afff89df2265e507aa8f82611e4b899bfd"),
        (192, "ad6ebeb38306fe69d221f2aa0a54a1c0256adee062b64bd8a78d2cf0d852a688"),
        (200, "14b45a75caf178409d04055e4c6cd9fdb3a885fc103c69eb9d9001b1c4cce15b"),
    ]

    static func boundaryMessage(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
    }

    @Test func everyPaddingBoundaryMatchesAnIndependentImplementation() {
        let key = HMACSHA256Key(copying: Array(0..<32))
        for (length, tag) in Self.paddingBoundaries {
            #expect(key.authenticationCode(for: Self.boundaryMessage(length)) == hex(tag), "length \(length)")
        }
    }

    @Test func prefixesAndChunkingOfAnyLengthGiveTheSameTag() {
        let key = HMACSHA256Key(copying: Array(0..<32))
        for (length, tag) in Self.paddingBoundaries {
            let message = Self.boundaryMessage(length)
            for split in Set([0, 1, length / 3, length / 2, max(0, length - 1), length]) where split <= length {
                let prefixed = key.prefixed(with: Array(message[..<split]))
                #expect(prefixed.authenticationCode(for: Array(message[split...])) == hex(tag), "length \(length) split \(split)")
                // The same bytes fed in three uneven pieces.
                var output = [UInt8](repeating: 0, count: 32)
                output.withUnsafeMutableBytes { out in
                    message.withUnsafeBytes { bytes in
                        key.authenticate(into: out.baseAddress!) { feeder in
                            feeder.update(UnsafeRawBufferPointer(rebasing: bytes[..<(split / 2)]))
                            feeder.update(UnsafeRawBufferPointer(rebasing: bytes[(split / 2)..<split]))
                            feeder.update(UnsafeRawBufferPointer(rebasing: bytes[split...]))
                        }
                    }
                }
                #expect(output == hex(tag), "length \(length) chunks at \(split / 2), \(split)")
            }
        }
    }
}
