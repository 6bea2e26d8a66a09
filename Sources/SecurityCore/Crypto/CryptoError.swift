/// An error from a cryptographic primitive.
///
/// The ``code`` is stable and safe to match on; the ``reason`` is for people. Neither ever contains
/// key material, plaintext or a tag.
public struct CryptoError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: String, Hashable, Sendable {
            case invalidKeySize = "invalid_key_size"
            case invalidNonceSize = "invalid_nonce_size"
            case invalidTagSize = "invalid_tag_size"
            case authenticationFailed = "authentication_failed"
            case inputTooLarge = "input_too_large"
            case outputTooLarge = "output_too_large"
            case randomFailure = "random_failure"
            case backendFailure = "backend_failure"
            case invalidPasswordHash = "invalid_password_hash"
            case invalidParameters = "invalid_parameters"
            case invalidKey = "invalid_key"
        }

        private let backing: Backing
        private init(backing: Backing) { self.backing = backing }

        /// A key of the wrong length for the algorithm.
        public static let invalidKeySize = Code(backing: .invalidKeySize)
        /// A nonce (IV) of the wrong length for the algorithm.
        public static let invalidNonceSize = Code(backing: .invalidNonceSize)
        /// A tag of the wrong length for the algorithm.
        public static let invalidTagSize = Code(backing: .invalidTagSize)
        /// The tag did not match: the ciphertext, associated data, nonce or key is wrong.
        public static let authenticationFailed = Code(backing: .authenticationFailed)
        /// An input is larger than the primitive accepts.
        public static let inputTooLarge = Code(backing: .inputTooLarge)
        /// A requested output is larger than the primitive can produce.
        public static let outputTooLarge = Code(backing: .outputTooLarge)
        /// The random number generator failed; nothing was produced.
        public static let randomFailure = Code(backing: .randomFailure)
        /// The underlying library reported an unexpected failure.
        public static let backendFailure = Code(backing: .backendFailure)
        /// A stored password hash is not a hash this library can read.
        public static let invalidPasswordHash = Code(backing: .invalidPasswordHash)
        /// Parameters outside what the primitive supports.
        public static let invalidParameters = Code(backing: .invalidParameters)
        /// A public key that is malformed, too weak, or not on its curve.
        public static let invalidKey = Code(backing: .invalidKey)

        public var description: String { backing.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// A human-readable explanation. Never contains secret bytes.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    static func authenticationFailed() -> CryptoError {
        CryptoError(.authenticationFailed, "authentication failed")
    }
}
