public import SecurityCore

/// An error AgentHost reports to an operator: what is wrong and what to do about it.
///
/// The reason never contains key bytes, tokens or environment values.
public struct AgentHostError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case configuration
            case keys
            case store
            case invalidInput = "invalid_input"
            case notFound = "not_found"
            case conflict
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A setting, option or environment value that cannot be used.
        public static let configuration = Code(.configuration)
        /// The keyring or a key: missing, unreadable, inconsistent, or from the environment where
        /// a file was expected.
        public static let keys = Code(.keys)
        /// The store or the data directory could not be opened or created.
        public static let store = Code(.store)
        /// A value given to a command that it cannot take.
        public static let invalidInput = Code(.invalidInput)
        /// What a command names does not exist.
        public static let notFound = Code(.notFound)
        /// What a command would create exists already.
        public static let conflict = Code(.conflict)

        public var description: String { value.rawValue }
    }

    /// What kind of failure, as a stable code.
    public let code: Code
    /// A human-readable explanation and, where there is one, the fix.
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The explanation, as the command line prints it.
    public var message: String { reason }
}
