/// Authenticator data (WebAuthn Level 2, §6.1): the RP ID hash, the flags, the signature counter
/// and, at registration, the new credential's id and public key.
public struct AuthenticatorData: Sendable {
    /// SHA-256 of the relying party id the authenticator scoped the credential to.
    public let relyingPartyIDHash: [UInt8]
    /// The flags byte.
    public let flags: UInt8
    /// The signature counter (0 when the authenticator keeps none).
    public let signCount: UInt32
    /// At registration (the AT flag): the credential id and its public key as CBOR bytes.
    public let attestedCredential: (id: [UInt8], publicKey: [UInt8])?

    /// Whether the user was present (UP).
    public var userPresent: Bool { flags & 0x01 != 0 }
    /// Whether the user was verified (UV): a PIN, a fingerprint.
    public var userVerified: Bool { flags & 0x04 != 0 }

    /// The longest credential id accepted (WebAuthn Level 2 §5.8.3: 1023 bytes).
    public static let maximumCredentialIDLength = 1023

    /// Parses `bytes`. Throws ``WebAuthnError`` (`malformedAuthenticatorData`, or `malformedCBOR`
    /// for the key or extensions) when they are short, the flags do not match what follows, or
    /// bytes are left over.
    public init(_ bytes: [UInt8]) throws(WebAuthnError) {
        func fail(_ reason: String) -> WebAuthnError { WebAuthnError(.malformedAuthenticatorData, reason) }
        guard bytes.count >= 37 else { throw fail("authenticator data is at least 37 bytes") }
        relyingPartyIDHash = Array(bytes[0..<32])
        flags = bytes[32]
        signCount = bytes[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
        var rest = bytes[37...]
        if flags & 0x40 != 0 {
            guard rest.count >= 18 else { throw fail("the attested credential data is cut short") }
            let length = Int(rest[rest.startIndex + 16]) << 8 | Int(rest[rest.startIndex + 17])
            let idStart = rest.startIndex + 18
            guard length >= 16, length <= Self.maximumCredentialIDLength, rest.endIndex - idStart >= length else {
                throw fail("the credential id's length is wrong")
            }
            let id = Array(rest[idStart..<idStart + length])
            let (key, after) = try CBORDecoder.decodePrefix(rest[(idStart + length)...])
            guard case .map = key else { throw fail("the credential public key is not a COSE map") }
            attestedCredential = (id, Array(rest[(idStart + length)..<after.startIndex]))
            rest = after
        } else {
            attestedCredential = nil
        }
        if flags & 0x80 != 0 {
            let (extensions, after) = try CBORDecoder.decodePrefix(rest)
            guard case .map = extensions else { throw fail("the extensions are not a CBOR map") }
            rest = after
        }
        guard rest.isEmpty else { throw fail("bytes follow the authenticator data") }
    }
}
