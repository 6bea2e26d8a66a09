/// Seconds since the Unix epoch written as RFC 3339 / ISO 8601 UTC text, `2026-11-22T18:00:00Z`:
/// the form every timestamp in AgentHost's responses takes.
///
/// Integer arithmetic only (no calendar, locale or formatter), so a response on the request path
/// pays tens of nanoseconds for its timestamps.
public enum UTCTimestamp {
    /// `seconds` as `YYYY-MM-DDTHH:MM:SSZ`. Years before 0 or after 9999 are clamped to that range,
    /// so the text always has this shape.
    public static func string(seconds: Int64) -> String {
        let clamped = min(max(seconds, minimum), maximum)
        let days = clamped >= 0 ? clamped / 86_400 : (clamped - 86_399) / 86_400
        let secondOfDay = clamped - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int64, at offset: Int, width: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, width: 2)
        bytes[10] = UInt8(ascii: "T")
        put(secondOfDay / 3600, at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(secondOfDay / 60 % 60, at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(secondOfDay % 60, at: 17, width: 2)
        bytes[19] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `milliseconds` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`, clamped as
    /// ``string(seconds:)`` is: the form of audit record times.
    public static func string(milliseconds: Int64) -> String {
        // Floor division, so times before 1970 count their fraction forward from a whole second.
        let (quotient, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1_000)
        let seconds = remainder < 0 ? quotient - 1 : quotient
        let fraction = remainder < 0 ? remainder + 1_000 : remainder
        var text = string(seconds: seconds)
        guard seconds == min(max(seconds, minimum), maximum) else {
            return text.dropLast() + (seconds < minimum ? ".000Z" : ".999Z")
        }
        text.removeLast()
        return text + "." + String(fraction + 1_000).dropFirst() + "Z"
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    static let minimum: Int64 = -62_167_219_200
    static let maximum: Int64 = 253_402_300_799

    /// Howard Hinnant's days-to-civil algorithm: the proleptic Gregorian (year, month, day) of a
    /// day number counted from 1970-01-01.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
