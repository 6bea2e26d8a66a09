/// An error AgentHost reports to an operator: what is wrong and what to do about it.
///
/// The message never contains key bytes, tokens or environment values.
public struct AgentHostError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A human-readable explanation and, where there is one, the fix.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
