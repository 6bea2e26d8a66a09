/// Why a token could not be minted or was refused.
///
/// The ``code`` is stable; the ``reason`` is for logs and operators. Neither contains the token,
/// a key or a secret. A verifier's caller should tell clients little more than "invalid token":
/// `isClientVisible` (internal) says which codes are safe to name in a response.
public struct TokenError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case malformed = "token_malformed"
            case unsupportedVersion = "token_unsupported_version"
            case unknownKey = "token_unknown_key"
            case invalidSignature = "token_invalid_signature"
            case expired = "token_expired"
            case notYetValid = "token_not_yet_valid"
            case lifetimeExceeded = "token_lifetime_exceeded"
            case wrongAudience = "token_wrong_audience"
            case revoked = "token_revoked"
            case noSigningKey = "no_signing_key"
            case invalidLifetime = "invalid_lifetime"
            case weakKey = "weak_key"
            case invalidKeyring = "invalid_keyring"
            case invalidConfiguration = "invalid_configuration"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Not a token of this format: bad prefix, encoding, length or field layout.
        public static let malformed = Code(.malformed)
        /// A token version this library does not know.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The token names a key that is unknown or retired.
        public static let unknownKey = Code(.unknownKey)
        /// The signature does not match.
        public static let invalidSignature = Code(.invalidSignature)
        /// The token has expired.
        public static let expired = Code(.expired)
        /// The token's issue time is in the future.
        public static let notYetValid = Code(.notYetValid)
        /// The token lives longer than the verifier's maximum lifetime allows.
        public static let lifetimeExceeded = Code(.lifetimeExceeded)
        /// The token was minted for another audience.
        public static let wrongAudience = Code(.wrongAudience)
        /// The token, or every token of its agent from before a date, was revoked.
        public static let revoked = Code(.revoked)
        /// Minting needs a primary key and the keyring has none.
        public static let noSigningKey = Code(.noSigningKey)
        /// A requested lifetime is not positive or exceeds the maximum.
        public static let invalidLifetime = Code(.invalidLifetime)
        /// A key secret is too short.
        public static let weakKey = Code(.weakKey)
        /// A keyring is inconsistent (duplicate ids, two primaries, unknown key).
        public static let invalidKeyring = Code(.invalidKeyring)
        /// A configuration value (audience, leeway) is invalid.
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String { value.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation without secrets.
    public let reason: String

    /// An error with `code` and a `reason` that must not hold secret bytes.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

}
