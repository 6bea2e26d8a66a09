@testable import SecurityCore
import Testing

struct BytesTests {
    @Test(arguments: [Int64(0), 1, 9, 10, 99, 100, 12_345, 999_999_999_999_999, -1, -10, Int64.max, Int64.min])
    func decimalStringMatchesTheStandardLibrary(value: Int64) {
        #expect(decimalString(value) == String(value))
    }

    @Test func concatenatedJoinsShortAndLongParts() {
        #expect(concatenated("", "", "", "") == "")
        #expect(concatenated("\"general\";r=", "99", ";t=", "60") == "\"general\";r=99;t=60")
        let long = String(repeating: "é", count: 40)
        #expect(concatenated(long, "a", long, "b") == long + "a" + long + "b")
    }

    @Test func bytesEqualComparesLengthAndContent() {
        func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
            lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in bytesEqual(left, right) } }
        }
        #expect(equal([], []))
        #expect(equal([1, 2, 3], [1, 2, 3]))
        #expect(!equal([1, 2, 3], [1, 2, 4]))
        #expect(!equal([1, 2], [1, 2, 3]))
    }
}
