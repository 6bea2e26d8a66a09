/// A credential public key as a COSE_Key (RFC 9052 §7, RFC 9053), the form authenticators give it
/// in: ES256 (`kty` 2, `crv` 1 P-256), EdDSA (`kty` 1, `crv` 6 Ed25519) or RS256 (`kty` 3). Any
/// other key, a missing or contradicting parameter, is refused.
public struct COSEKey: Sendable {
    /// The COSE algorithm numbers accepted.
    public static let es256: Int64 = -7
    public static let eddsa: Int64 = -8
    public static let rs256: Int64 = -257

    /// The key's COSE algorithm.
    public let algorithm: Int64
    /// What checks its signatures.
    public let verifier: SignatureVerifier

    /// The key in `value`, a COSE_Key map. Throws ``WebAuthnError`` (`unsupportedKey`).
    public init(_ value: CBORValue) throws(WebAuthnError) {
        func fail(_ reason: String) -> WebAuthnError { WebAuthnError(.unsupportedKey, reason) }
        guard case .map = value, let kty = value[.integer(1)]?.integerValue, let alg = value[.integer(3)]?.integerValue else {
            throw fail("a COSE key needs kty (1) and alg (3)")
        }
        do {
            switch (kty, alg) {
            case (2, Self.es256):
                guard value[.integer(-1)]?.integerValue == 1, let x = value[.integer(-2)]?.bytesValue,
                    let y = value[.integer(-3)]?.bytesValue
                else { throw fail("an ES256 key is a P-256 point (crv 1, x, y)") }
                verifier = try SignatureVerifier(p256X: x, y: y)
            case (1, Self.eddsa):
                guard value[.integer(-1)]?.integerValue == 6, let x = value[.integer(-2)]?.bytesValue else {
                    throw fail("an EdDSA key is Ed25519 (crv 6, x)")
                }
                verifier = try SignatureVerifier(ed25519: x)
            case (3, Self.rs256):
                guard let n = value[.integer(-1)]?.bytesValue, let e = value[.integer(-2)]?.bytesValue else {
                    throw fail("an RS256 key needs n and e")
                }
                verifier = try SignatureVerifier(rsaModulus: n, exponent: e)
            default:
                throw fail("only ES256 (P-256), EdDSA (Ed25519) and RS256 keys are accepted")
            }
        } catch let error as WebAuthnError {
            throw error
        } catch {
            throw fail("the public key is malformed or too weak")
        }
        algorithm = alg
    }

    /// The key in `bytes`, a CBOR-encoded COSE_Key, as stored after registration.
    public init(encoded bytes: [UInt8]) throws(WebAuthnError) {
        try self.init(CBORDecoder.decode(bytes[...]))
    }
}
