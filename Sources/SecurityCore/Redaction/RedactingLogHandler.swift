public import Logging

/// A swift-log handler that redacts before anything is written: the message, every metadata value
/// (nested dictionaries and arrays too, and values that are only `CustomStringConvertible`), and
/// an attached error's description, through a ``SecretRedactor``. Then it hands the event to the
/// handler it wraps.
///
/// ```swift
/// let redactor = SecretRedactor()
/// LoggingSystem.bootstrap { label in
///     RedactingLogHandler(wrapping: StreamLogHandler.standardError(label: label), redactor: redactor)
/// }
/// redactor.register(loadedKey)
/// ```
public struct RedactingLogHandler: LogHandler {
    private var wrapped: any LogHandler
    /// Where secrets are found.
    public let redactor: SecretRedactor
    /// Kept here, not in the wrapped handler, so it is redacted too.
    public var metadata: Logger.Metadata = [:]

    /// Metadata from task-local context, redacted like the rest.
    public var metadataProvider: Logger.MetadataProvider?

    public init(wrapping wrapped: any LogHandler, redactor: SecretRedactor) {
        self.wrapped = wrapped
        self.redactor = redactor
        self.metadata = wrapped.metadata
        self.metadataProvider = wrapped.metadataProvider
        self.wrapped.metadata = [:]
        self.wrapped.metadataProvider = nil
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        if let error = event.error {
            merged["error"] = .string("\(error)")
            event.error = nil
        }
        event.message = Logger.Message(stringLiteral: redactor.redact(event.message.description))
        event.metadata = merged.isEmpty ? nil : merged.mapValues(redact)
        wrapped.log(event: event)
    }

    private func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(redactor.redact(text))
        case .stringConvertible(let convertible): .string(redactor.redact(convertible.description))
        case .dictionary(let dictionary): .dictionary(dictionary.mapValues(redact))
        case .array(let array): .array(array.map(redact))
        }
    }
}
