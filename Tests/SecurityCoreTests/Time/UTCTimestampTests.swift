import Foundation
import SecurityCore
import Testing

@Suite struct UTCTimestampTests {
    @Test func matchesFoundationAcrossCenturiesLeapDaysAndDayEdges() {
        var seconds: [Int64] = [
            0, 1, 59, 60, 3599, 3600, 86_399, 86_400, -1, -86_400, -86_401,
            951_782_399, 951_782_400, 951_868_800,  // 2000-02-28T23:59:59, 02-29, 03-01 (a leap century)
            4_107_542_400,  // 2100-03-01: 2100 is not a leap year
            1_795_379_200, 1_795_464_000,  // 2026-11-22 and 12:00 that day
            -2_208_988_800,  // 1900-01-01
            UTCTimestampTests.latest,
        ]
        // A deterministic spread over 1900...9999, at odd seconds of the day.
        var value: Int64 = -2_208_988_800
        while value < UTCTimestampTests.latest {
            seconds.append(value)
            value += 7_919_999_983
        }
        for second in seconds {
            let expected = Date(timeIntervalSince1970: TimeInterval(second)).ISO8601Format()
            #expect(UTCTimestamp.string(seconds: second) == expected, "at \(second)")
        }
    }

    @Test func millisecondsKeepTheirFractionAndTheZ() {
        #expect(UTCTimestamp.string(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(UTCTimestamp.string(milliseconds: 1_795_379_200_007) == "2026-11-22T20:26:40.007Z")
        #expect(UTCTimestamp.string(milliseconds: 1_795_379_200_999) == "2026-11-22T20:26:40.999Z")
        #expect(UTCTimestamp.string(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(UTCTimestamp.string(milliseconds: .max) == "9999-12-31T23:59:59.999Z")
        #expect(UTCTimestamp.string(milliseconds: .min) == "0000-01-01T00:00:00.000Z")
        // The whole seconds as Foundation writes them, the fraction exact (Foundation's float
        // rounding writes 999 ms as .998).
        for milliseconds: Int64 in [1, 999, 1_000, 86_399_999, 951_782_399_500, -86_400_001] {
            let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
            let fraction = milliseconds - seconds * 1000
            let whole = Date(timeIntervalSince1970: TimeInterval(seconds)).ISO8601Format().dropLast()
            let expected = whole + "." + String(fraction + 1000).dropFirst() + "Z"
            #expect(UTCTimestamp.string(milliseconds: milliseconds) == expected, "at \(milliseconds)")
        }
    }

    @Test func outOfRangeTimesAreClampedToFourDigitYears() {
        #expect(UTCTimestamp.string(seconds: .max) == "9999-12-31T23:59:59Z")
        #expect(UTCTimestamp.string(seconds: .min) == "0000-01-01T00:00:00Z")
    }

    static let latest: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z
}
