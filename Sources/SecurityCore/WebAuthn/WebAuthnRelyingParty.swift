/// The relying party's side of WebAuthn Level 2: the verification steps of registering a passkey
/// (§7.1) and of an assertion with one (§7.2), framework-free. The caller keeps the challenges it
/// issued and the credentials it registered; this type decides.
///
/// Attestation is `none`: the relying party asks for none, and any other format is refused, so no
/// attestation statement is ever trusted or parsed. Keys are ES256, EdDSA or RS256 (``COSEKey``).
///
/// ```swift
/// let party = WebAuthnRelyingParty(id: "example.com", origins: ["https://app.example.com"])
/// let credential = try party.verifyRegistration(
///     clientDataJSON: clientData, attestationObject: attestation, challenge: issued, requireUserVerification: false)
/// // store credential.id, credential.publicKey, credential.signCount
/// ```
public struct WebAuthnRelyingParty: Sendable {
    /// The relying party id: the site's domain, which the credential is scoped to.
    public let id: String
    /// The origins a ceremony may come from (`https://app.example.com`, or `http://127.0.0.1:8080`
    /// on loopback).
    public let origins: Set<String>

    public init(id: String, origins: Set<String>) {
        self.id = id
        self.origins = origins
    }

    /// A credential registered by ``verifyRegistration(clientDataJSON:attestationObject:challenge:requireUserVerification:)``.
    public struct Credential: Sendable {
        /// The credential id the authenticator chose.
        public let id: [UInt8]
        /// The COSE_Key, CBOR-encoded: what ``verifyAssertion(clientDataJSON:authenticatorData:signature:challenge:publicKey:storedSignCount:requireUserVerification:)`` takes.
        public let publicKey: [UInt8]
        /// The COSE algorithm of the key.
        public let algorithm: Int64
        /// The signature counter at registration.
        public let signCount: UInt32
        /// Whether the user was verified.
        public let userVerified: Bool
    }

    /// What an assertion proved.
    public struct Assertion: Sendable {
        /// The counter to store for the credential.
        public let signCount: UInt32
        /// Whether the user was verified.
        public let userVerified: Bool
    }

    /// Verifies a registration (`navigator.credentials.create`) against the `challenge` issued for
    /// it. Throws ``WebAuthnError`` naming the first step that failed.
    public func verifyRegistration(
        clientDataJSON: [UInt8], attestationObject: [UInt8], challenge: [UInt8], requireUserVerification: Bool
    ) throws(WebAuthnError) -> Credential {
        try checkClientData(clientDataJSON, type: "webauthn.create", challenge: challenge)
        let object = try CBORDecoder.decode(attestationObject[...])
        guard let format = object[.text("fmt")]?.textValue, let statement = object[.text("attStmt")],
            let authenticatorBytes = object[.text("authData")]?.bytesValue
        else {
            throw WebAuthnError(.malformedCBOR, "an attestation object has fmt, attStmt and authData")
        }
        guard format == "none", case .map(let fields) = statement, fields.isEmpty else {
            throw WebAuthnError(.unsupportedAttestation, "only attestation none is accepted")
        }
        let data = try AuthenticatorData(authenticatorBytes)
        try checkFlags(data, requireUserVerification: requireUserVerification)
        guard let attested = data.attestedCredential else {
            throw WebAuthnError(.malformedAuthenticatorData, "a registration carries the new credential (the AT flag)")
        }
        let key = try COSEKey(encoded: attested.publicKey)
        return Credential(
            id: attested.id, publicKey: attested.publicKey, algorithm: key.algorithm, signCount: data.signCount,
            userVerified: data.userVerified)
    }

    /// Verifies an assertion (`navigator.credentials.get`) with the registered `publicKey` and
    /// the counter stored for it. The counter must go up unless both it and the stored one are 0
    /// (an authenticator that keeps none). Throws ``WebAuthnError`` naming the first failed step.
    public func verifyAssertion(
        clientDataJSON: [UInt8], authenticatorData: [UInt8], signature: [UInt8], challenge: [UInt8], publicKey: [UInt8],
        storedSignCount: UInt32, requireUserVerification: Bool
    ) throws(WebAuthnError) -> Assertion {
        try checkClientData(clientDataJSON, type: "webauthn.get", challenge: challenge)
        let data = try AuthenticatorData(authenticatorData)
        try checkFlags(data, requireUserVerification: requireUserVerification)
        let key = try COSEKey(encoded: publicKey)
        guard key.verifier.isValidSignature(signature, for: authenticatorData + SecureHash.sha256(clientDataJSON)) else {
            throw WebAuthnError(.invalidSignature, "the signature does not verify with the credential's key")
        }
        if data.signCount != 0 || storedSignCount != 0 {
            guard data.signCount > storedSignCount else {
                throw WebAuthnError(
                    .counterNotIncreased, "the signature counter did not go up: the assertion is replayed or the key was copied")
            }
        }
        return Assertion(signCount: data.signCount, userVerified: data.userVerified)
    }

    /// §7.1 steps 5-12 / §7.2 steps 10-14: the client data's type, challenge, origin, and not
    /// from a cross-origin frame.
    private func checkClientData(_ bytes: [UInt8], type: String, challenge: [UInt8]) throws(WebAuthnError) {
        guard bytes.count <= 64 * 1024, let value = try? JSONValue.parse(bytes), case .object = value else {
            throw WebAuthnError(.malformedClientData, "clientDataJSON is not a JSON object")
        }
        guard value["type"]?.stringValue == type else { throw WebAuthnError(.wrongType, "clientDataJSON.type is not \(type)") }
        guard let sent = value["challenge"]?.stringValue.flatMap(Base64URL.decode), ConstantTime.equals(sent, challenge) else {
            throw WebAuthnError(.wrongChallenge, "the challenge is not the one issued")
        }
        guard let origin = value["origin"]?.stringValue, origins.contains(origin) else {
            throw WebAuthnError(.wrongOrigin, "the origin is not this relying party's")
        }
        if case .bool(true)? = value["crossOrigin"] {
            throw WebAuthnError(.wrongOrigin, "the ceremony ran in a cross-origin frame")
        }
    }

    /// The RP ID hash, user presence, and user verification when required.
    private func checkFlags(_ data: AuthenticatorData, requireUserVerification: Bool) throws(WebAuthnError) {
        guard ConstantTime.equals(data.relyingPartyIDHash, SecureHash.sha256(Array(id.utf8))) else {
            throw WebAuthnError(.wrongRelyingParty, "the credential is scoped to another relying party")
        }
        guard data.userPresent else { throw WebAuthnError(.userNotPresent, "the user was not present") }
        if requireUserVerification, !data.userVerified {
            throw WebAuthnError(.userNotVerified, "the user was not verified")
        }
    }
}
