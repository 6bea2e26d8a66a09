@testable import SecurityCore
import Testing

struct BytesTests {
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
