/// The shape of every error in this package: a stable ``code`` to branch on, and a ``reason`` for
/// people that never carries a secret, a key or the raw input that was refused.
///
/// Each error type's `Code` is a struct over a private enum, as swift-certificates' `ErrorCode`
/// is: a new code is not a breaking change for a caller that switches over the ones it knows.
/// ``description`` has one format everywhere: `TypeName(code): reason`.
public protocol CodedError: Error, CustomStringConvertible {
    associatedtype Code: Hashable & Sendable & CustomStringConvertible
    /// What kind of failure it is; stable across versions.
    var code: Code { get }
    /// What went wrong, for a log or an operator.
    var reason: String { get }
}

extension CodedError {
    public var description: String { "\(Self.self)(\(code)): \(reason)" }
}
