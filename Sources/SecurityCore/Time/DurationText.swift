/// Durations written for people: a number and a unit (`90s`, `15m`, `12h`, `7d`), several of
/// them together (`1h30m`), or a bare number of seconds (`45`). ASCII digits only; no sign, no
/// fraction, at most 32 characters.
///
/// The command line's `--ttl` and timeouts and the API's `ttl` fields read the same forms.
package enum DurationText {
    /// The whole seconds `text` names, or `nil` when it is not a duration or does not fit in
    /// an `Int64`.
    package static func seconds(_ text: some StringProtocol) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 32 else { return nil }
        var total: Int64 = 0
        var number: Int64?
        for byte in text.utf8 {
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                let (shifted, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                number = next
                continue
            }
            let unit: Int64
            switch byte {
            case UInt8(ascii: "s"): unit = 1
            case UInt8(ascii: "m"): unit = 60
            case UInt8(ascii: "h"): unit = 3_600
            case UInt8(ascii: "d"): unit = 86_400
            default: return nil
            }
            guard let value = number else { return nil }
            let (product, overflow1) = value.multipliedReportingOverflow(by: unit)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { return nil }
            total = sum
            number = nil
        }
        if let number {
            let (sum, overflow) = total.addingReportingOverflow(number)
            guard !overflow else { return nil }
            total = sum
        }
        return total
    }
}
