import SecurityCore
import Testing

struct TOTPTests {
    // RFC 6238, Appendix B: the test vectors (8 digits, 30-second steps). The seeds are the ASCII
    // digits "1234567890" repeated to 20, 32 and 64 bytes for SHA-1, SHA-256 and SHA-512 (the
    // table's values are computed with those lengths; the RFC's reference code shows the 20-byte
    // seed for all three, a known erratum).
    //
    // Copyright (c) 2011 IETF Trust and the persons identified as the document authors. All rights
    // reserved. This document is subject to BCP 78 and the IETF Trust's Legal Provisions Relating
    // to IETF Documents (https://trustee.ietf.org/license-info). Code Components extracted from it
    // are licensed under the Simplified BSD License.
    static let appendixB: [(time: Int64, sha1: String, sha256: String, sha512: String)] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ]

    static func seed(_ count: Int) -> SecureBytes {
        SecureBytes(copying: (0..<count).map { Array("1234567890".utf8)[$0 % 10] })
    }

    @Test func theSeedsAreTheRFCs() {
        #expect(String(decoding: Array(Self.seed(20)), as: UTF8.self) == "12345678901234567890")
        #expect(String(decoding: Array(Self.seed(32)), as: UTF8.self) == "12345678901234567890123456789012")
    }

    @Test func rfc6238AppendixBVectors() throws {
        let sha1 = try TOTP(secret: Self.seed(20), algorithm: .sha1, digits: 8)
        let sha256 = try TOTP(secret: Self.seed(32), algorithm: .sha256, digits: 8)
        let sha512 = try TOTP(secret: Self.seed(64), algorithm: .sha512, digits: 8)
        for vector in Self.appendixB {
            #expect(sha1.code(at: vector.time) == vector.sha1, "SHA-1 at \(vector.time)")
            #expect(sha256.code(at: vector.time) == vector.sha256, "SHA-256 at \(vector.time)")
            #expect(sha512.code(at: vector.time) == vector.sha512, "SHA-512 at \(vector.time)")
        }
    }

    @Test func sixDigitsAreTheLastSixOfEight() throws {
        // Truncation takes the value modulo 10^digits: the 6-digit code is the 8-digit one's tail.
        let six = try TOTP(secret: Self.seed(20))
        for vector in Self.appendixB {
            #expect(six.code(at: vector.time) == String(vector.sha1.suffix(6)))
        }
    }

    @Test func oneStepOfSkewEitherWayAndNoMore() throws {
        let totp = try TOTP(secret: Self.seed(20))
        let now: Int64 = 1_234_567_890
        let step = totp.step(at: now)
        for offset: Int64 in -1...1 {
            #expect(totp.verify(totp.code(forStep: step + offset), at: now, after: nil) == step + offset)
        }
        for offset: Int64 in [-3, -2, 2, 3] {
            #expect(totp.verify(totp.code(forStep: step + offset), at: now, after: nil) == nil, "offset \(offset)")
        }
    }

    @Test func aCodeIsGoodOnce() throws {
        let totp = try TOTP(secret: Self.seed(20))
        let now: Int64 = 1_700_000_000
        let code = totp.code(at: now)
        let step = try #require(totp.verify(code, at: now, after: nil))
        // The same code again, even a few seconds later in the same step: refused.
        #expect(totp.verify(code, at: now + 5, after: step) == nil)
        // An older step's code, still inside the skew window: refused too.
        #expect(totp.verify(totp.code(forStep: step - 1), at: now, after: step) == nil)
        // The next step's code: accepted.
        #expect(totp.verify(totp.code(forStep: step + 1), at: now + 30, after: step) == step + 1)
    }

    @Test(arguments: ["", "12345", "1234567", "12345a", "12 456", "١٢٣٤٥٦", "-12345"])
    func anythingButDigitsOfTheRightLengthIsRefused(code: String) throws {
        let totp = try TOTP(secret: Self.seed(20))
        #expect(totp.verify(code, at: 1_700_000_000, after: nil) == nil)
    }

    @Test func parametersAreChecked() {
        #expect(throws: TOTPError.self) { try TOTP(secret: SecureBytes(copying: [UInt8](repeating: 1, count: 15))) }
        #expect(throws: TOTPError.self) { try TOTP(secret: Self.seed(20), digits: 5) }
        #expect(throws: TOTPError.self) { try TOTP(secret: Self.seed(20), digits: 9) }
        #expect(throws: TOTPError.self) { try TOTP(secret: Self.seed(20), period: 0) }
        #expect(TOTP.generateSecret().count == 20)
    }

    @Test func theProvisioningURIFollowsTheKeyURIFormat() throws {
        let totp = try TOTP(secret: Self.seed(20))
        let uri = totp.provisioningURI(issuer: "Agent Host", account: "ada@example.com")
        #expect(
            uri == "otpauth://totp/Agent%20Host:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                + "&issuer=Agent%20Host&algorithm=SHA1&digits=6&period=30")
        // Printing the value never shows the secret.
        #expect(!"\(totp)".contains("GEZDG") && !String(reflecting: totp).contains("GEZDG"))
    }
}

struct Base32Tests {
    // RFC 4648 §10 (same licence notice as above, for RFC 4648, Copyright (C) The Internet
    // Society (2006)).
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ]

    @Test func rfc4648Vectors() {
        let padded = ["", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"]
        for ((text, encoded), withPadding) in zip(Self.vectors, padded) {
            #expect(Base32.encode(Array(text.utf8)) == encoded)
            #expect(Base32.decode(encoded) == Array(text.utf8))
            #expect(Base32.decode(withPadding) == Array(text.utf8), "\(withPadding)")
            #expect(Base32.decode(encoded.lowercased()) == Array(text.utf8))
        }
    }

    @Test func roundTripsEveryLength() {
        for length in 0..<41 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 7) }
            #expect(Base32.decode(Base32.encode(bytes)) == bytes, "length \(length)")
        }
        #expect(Base32.decode("GEZD GNBV GY3T QOJQ") == Array("1234567890".utf8))
    }

    @Test(arguments: ["M", "MZX", "MZXW6Y", "MZ=XW", "MY=", "MZ", "M1", "MZXW6YTBOI=====", "AB"])
    func rejectsImpossibleText(text: String) {
        #expect(Base32.decode(text) == nil)
    }
}
