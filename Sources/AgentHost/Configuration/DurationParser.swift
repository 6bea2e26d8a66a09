import SecurityCore

/// Parses lifetimes and timeouts given on the command line: `DurationText`'s forms (`90s`,
/// `15m`, `12h`, `7d`, `1h30m`, or a bare number of seconds).
public enum DurationParser {
    /// The duration `text` names, or an ``AgentHostError`` saying what is accepted.
    public static func parse(_ text: String) throws -> Duration {
        guard let seconds = DurationText.seconds(text) else {
            throw AgentHostError(.configuration, "'\(text.prefix(32))' is not a duration; write e.g. 90s, 15m, 12h, 7d or 1h30m")
        }
        return .seconds(seconds)
    }
}
