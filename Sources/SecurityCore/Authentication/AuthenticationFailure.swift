/// Why a request was not authenticated.
///
/// The ``code`` is stable; the ``reason`` is for logs and never holds the credential or a key. The
/// pipeline answers each with a 401 whose `code` says as little as a client needs (every kind of
/// forged or unknown credential is `invalid_token`).
public struct AuthenticationFailure: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case missingCredential = "missing_credential"
            case unsupportedScheme = "unsupported_scheme"
            case ambiguousCredentials = "ambiguous_credentials"
            case ambiguousIdentity = "ambiguous_identity"
            case identityMismatch = "identity_mismatch"
            case missingIdentityHeaders = "missing_identity_headers"
            case invalidIdentityHeaders = "invalid_identity_headers"
            case invalidCredential = "invalid_credential"
            case expired
            case notYetValid = "not_yet_valid"
            case revoked
            case unknownUser = "unknown_user"
            case sessionEnded = "session_ended"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// No credential was presented where one is needed.
        public static let missingCredential = Code(.missingCredential)
        /// `Authorization` holds a scheme this route does not take, or a bearer value with a space.
        public static let unsupportedScheme = Code(.unsupportedScheme)
        /// Two different credentials, or one header sent twice.
        public static let ambiguousCredentials = Code(.ambiguousCredentials)
        /// An `X-Agent-*` identity header sent twice.
        public static let ambiguousIdentity = Code(.ambiguousIdentity)
        /// An identity header names someone other than the credential proves.
        public static let identityMismatch = Code(.identityMismatch)
        /// Header-trust mode without both `X-Agent-ID` and `X-Agent-Role`.
        public static let missingIdentityHeaders = Code(.missingIdentityHeaders)
        /// Header-trust identity headers that are not valid identifiers.
        public static let invalidIdentityHeaders = Code(.invalidIdentityHeaders)
        /// Forged, malformed, signed by an unknown key, for another audience, an unknown or wrong
        /// API key or device secret, or a credential no authenticator knows.
        public static let invalidCredential = Code(.invalidCredential)
        /// A token past its expiry.
        public static let expired = Code(.expired)
        /// A token issued in the future (clocks apart by more than the leeway).
        public static let notYetValid = Code(.notYetValid)
        /// A revoked token, or every token of its agent revoked.
        public static let revoked = Code(.revoked)
        /// A session of a user who no longer exists.
        public static let unknownUser = Code(.unknownUser)
        /// A session issued before its user's password was changed.
        public static let sessionEnded = Code(.sessionEnded)

        public var description: String { value.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation without secrets.
    public let reason: String
    /// The header concerned, for ``Code/identityMismatch``.
    public let header: String?

    /// A failure with `code` and a `reason` that must not hold secret bytes.
    public init(_ code: Code, _ reason: String, header: String? = nil) {
        self.code = code
        self.reason = reason
        self.header = header
    }

    /// The failure a token error means: its time and revocation codes kept, everything else
    /// ``Code/invalidCredential``.
    public init(_ error: TokenError) {
        switch error.code {
        case .expired: self.init(.expired, error.reason)
        case .notYetValid: self.init(.notYetValid, error.reason)
        case .revoked: self.init(.revoked, error.reason)
        default: self.init(.invalidCredential, error.reason)
        }
    }

}
