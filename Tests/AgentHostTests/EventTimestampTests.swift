@testable import AgentHost
import Foundation
import Testing

struct EventTimestampTests {
    /// The operator stream's `time` is whole seconds in UTC with its `Z`, as Docs/OPERATING.md shows
    /// (Foundation's format here had dropped the zone).
    @Test(arguments: [Int64(0), 999, 1_000, 1_763_820_000_123, 1_800_000_000_999, 253_402_300_799_000])
    func wholeSecondsInUTC(_ milliseconds: Int64) {
        let expected = Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000)).ISO8601Format()
        #expect(expected.hasSuffix("Z"))
        #expect(SystemEvents.timestamp(milliseconds: milliseconds) == expected)
    }
}
