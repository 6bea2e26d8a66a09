/// Why a token could not be minted or was refused.
///
/// The ``code`` is stable; the ``reason`` is for logs and operators. Neither contains the token,
/// a key or a secret. A verifier's caller should tell clients little more than "invalid token":
/// ``isClientVisible`` says which codes are safe to name in a response.
public struct TokenError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String

        /// Not a token of this format: bad prefix, encoding, length or field layout.
        public static let malformed = Code(rawValue: "token_malformed")
        /// A token version this library does not know.
        public static let unsupportedVersion = Code(rawValue: "token_unsupported_version")
        /// The token names a key that is unknown or retired.
        public static let unknownKey = Code(rawValue: "token_unknown_key")
        /// The signature does not match.
        public static let invalidSignature = Code(rawValue: "token_invalid_signature")
        /// The token has expired.
        public static let expired = Code(rawValue: "token_expired")
        /// The token's issue time is in the future.
        public static let notYetValid = Code(rawValue: "token_not_yet_valid")
        /// The token lives longer than the verifier's maximum lifetime allows.
        public static let lifetimeExceeded = Code(rawValue: "token_lifetime_exceeded")
        /// The token was minted for another audience.
        public static let wrongAudience = Code(rawValue: "token_wrong_audience")
        /// The token, or every token of its agent from before a date, was revoked.
        public static let revoked = Code(rawValue: "token_revoked")
        /// Minting needs a primary key and the keyring has none.
        public static let noSigningKey = Code(rawValue: "no_signing_key")
        /// A requested lifetime is not positive or exceeds the maximum.
        public static let invalidLifetime = Code(rawValue: "invalid_lifetime")
        /// A key secret is too short.
        public static let weakKey = Code(rawValue: "weak_key")
        /// A keyring is inconsistent (duplicate ids, two primaries, unknown key).
        public static let invalidKeyring = Code(rawValue: "invalid_keyring")
        /// A configuration value (audience, leeway) is invalid.
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")

        public var description: String { rawValue }
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

    public var description: String { "TokenError(\(code)): \(reason)" }
}
