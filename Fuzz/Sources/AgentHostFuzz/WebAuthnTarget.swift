import Foundation
import SecurityCore

/// WebAuthn's parsers: `CBORDecoder`, `AuthenticatorData`, `COSEKey` (which hands fuzzed points,
/// moduli and exponents to OpenSSL under ASan), and an assertion check with a real key.
///
/// Properties: a decoded item is all of the input or a prefix of it, never more; authenticator
/// data's parts match its flags; a COSE key that parses has one of the three algorithms; no
/// fuzzed assertion verifies against a key whose private half the fuzzer does not have.
enum WebAuthnTarget {
    /// A P-256 public key (the generator point), whose private key (1) no input can use without
    /// signing: any signature made without it fails.
    static let party = WebAuthnRelyingParty(id: "example.com", origins: ["https://app.example.com"])
    static let publicKey: [UInt8] =
        [0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]
        + hexBytes("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296") + [0x22, 0x58, 0x20]
        + hexBytes("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

    static func hexBytes(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map { offset in
            let start = text.index(text.startIndex, offsetBy: offset)
            return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16) ?? 0
        }
    }

    static func run(_ input: inout FuzzInput) {
        let bytes = input.rest()
        if let (value, rest) = try? CBORDecoder.decodePrefix(bytes[...]) {
            require(rest.count < bytes.count, "a CBOR item of no bytes")
            require(rest.endIndex == bytes.endIndex, "the rest is not the input's end")
            let whole = try? CBORDecoder.decode(bytes[...])
            require((whole != nil) == rest.isEmpty, "decode and decodePrefix disagree")
            if let key = try? COSEKey(value) {
                require([COSEKey.es256, COSEKey.eddsa, COSEKey.rs256].contains(key.algorithm), "a key of another algorithm")
            }
        }
        if let data = try? AuthenticatorData(bytes) {
            require((data.attestedCredential != nil) == (data.flags & 0x40 != 0), "a credential without the AT flag, or the reverse")
            require(data.relyingPartyIDHash.count == 32, "an RP ID hash that is not 32 bytes")
        }
        // The input as the authenticator data and signature of an assertion.
        let split = bytes.count / 2
        let clientData = Array(#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://app.example.com"}"#.utf8)
        let verified = try? party.verifyAssertion(
            clientDataJSON: clientData, authenticatorData: Array(bytes[..<split]), signature: Array(bytes[split...]),
            challenge: [0, 0, 0], publicKey: publicKey, storedSignCount: 0, requireUserVerification: false)
        require(verified == nil, "an assertion verified without the private key")
    }
}
