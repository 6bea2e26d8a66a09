/// Parses lifetimes written as a number and a unit: `90s`, `15m`, `12h`, `7d`, or several of them
/// together (`1h30m`). A bare number is seconds.
public enum DurationParser {
    /// The duration `text` names, or an ``AgentHostError`` saying what is accepted.
    public static func parse(_ text: String) throws -> Duration {
        let failure = AgentHostError("'\(text.prefix(32))' is not a duration; write e.g. 90s, 15m, 12h, 7d or 1h30m")
        guard !text.isEmpty, text.count <= 32 else { throw failure }
        var total: Int64 = 0
        var number: Int64?
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (shifted, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.addingReportingOverflow(Int64(digit))
                guard !overflow1, !overflow2 else { throw failure }
                number = next
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3_600
            case "d": unit = 86_400
            default: throw failure
            }
            guard let value = number else { throw failure }
            let (product, overflow1) = value.multipliedReportingOverflow(by: unit)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { throw failure }
            total = sum
            number = nil
        }
        if let number {
            let (sum, overflow) = total.addingReportingOverflow(number)
            guard !overflow else { throw failure }
            total = sum
        }
        return .seconds(total)
    }
}
