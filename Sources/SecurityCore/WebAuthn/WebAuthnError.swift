/// Why a passkey's registration or assertion was refused (WebAuthn Level 2, §7): a stable code
/// and a reason that never repeats what was sent.
public struct WebAuthnError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case malformedCBOR = "malformed_cbor"
            case malformedAuthenticatorData = "malformed_authenticator_data"
            case malformedClientData = "malformed_client_data"
            case unsupportedKey = "unsupported_key"
            case unsupportedAttestation = "unsupported_attestation"
            case wrongType = "wrong_type"
            case wrongChallenge = "wrong_challenge"
            case wrongOrigin = "wrong_origin"
            case wrongRelyingParty = "wrong_relying_party"
            case userNotPresent = "user_not_present"
            case userNotVerified = "user_not_verified"
            case invalidSignature = "invalid_signature"
            case counterNotIncreased = "counter_not_increased"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// CBOR that WebAuthn's decoder refuses (``CBORValue``).
        public static let malformedCBOR = Code(.malformedCBOR)
        /// Authenticator data too short, with flags that do not match its parts, or trailing bytes.
        public static let malformedAuthenticatorData = Code(.malformedAuthenticatorData)
        /// `clientDataJSON` that is not the JSON object a browser sends.
        public static let malformedClientData = Code(.malformedClientData)
        /// A COSE key that is not ES256 (P-256), EdDSA (Ed25519) or RS256 (2048 bits or more).
        public static let unsupportedKey = Code(.unsupportedKey)
        /// An attestation format other than `none` (this relying party asks for none).
        public static let unsupportedAttestation = Code(.unsupportedAttestation)
        /// `clientDataJSON.type` is not the ceremony's (`webauthn.create` / `webauthn.get`).
        public static let wrongType = Code(.wrongType)
        /// The challenge is not the one this server issued.
        public static let wrongChallenge = Code(.wrongChallenge)
        /// The origin is not the relying party's, or the call came from a cross-origin frame.
        public static let wrongOrigin = Code(.wrongOrigin)
        /// The authenticator data's RP ID hash is not SHA-256 of this relying party's id.
        public static let wrongRelyingParty = Code(.wrongRelyingParty)
        /// The user-present flag is not set.
        public static let userNotPresent = Code(.userNotPresent)
        /// User verification was required and the user-verified flag is not set.
        public static let userNotVerified = Code(.userNotVerified)
        /// The assertion's signature does not verify with the credential's public key.
        public static let invalidSignature = Code(.invalidSignature)
        /// The signature counter did not go up: the credential may have been cloned.
        public static let counterNotIncreased = Code(.counterNotIncreased)

        public var description: String { value.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong, without what was sent.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
