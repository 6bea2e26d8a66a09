import SecurityCore
import Testing

/// SHA-256 against FIPS 180-2's examples (Appendix B) and RFC 7636's PKCE example (Appendix B).
struct SecureHashTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func fipsExamples(message: String, digest: String) {
        #expect(SecureBytes(copying: SecureHash.sha256(Array(message.utf8))).hexEncoded() == digest)
    }

    @Test func aMillionAs() {
        let digest = SecureHash.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(SecureBytes(copying: digest).hexEncoded() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func pkceS256Example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        #expect(Base64URL.encode(SecureHash.sha256(Array(verifier.utf8))) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }
}
