/// Why a browser-facing input or setting was refused: a form body, a cookie domain.
///
/// The ``reason`` never repeats what was sent: a form may hold a password.
public struct BrowserError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case malformedForm = "malformed_form"
            case duplicateField = "duplicate_field"
            case formTooLarge = "form_too_large"
            case invalidCookieDomain = "invalid_cookie_domain"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A form body that is not `application/x-www-form-urlencoded` text: a bad `%` escape, or
        /// bytes that are not UTF-8 once decoded.
        public static let malformedForm = Code(.malformedForm)
        /// A field name sent twice: which one counts is never guessed.
        public static let duplicateField = Code(.duplicateField)
        /// More fields, or a longer body, than a form of the portal has.
        public static let formTooLarge = Code(.formTooLarge)
        /// A `cookie_domain` that is an IP address, a single label, or not a host name.
        public static let invalidCookieDomain = Code(.invalidCookieDomain)

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
