/// Whether two byte buffers hold the same bytes. Not constant time: for public data only (route
/// patterns, key ids), never for secrets or tags (those use ``ConstantTime``).
@inline(__always)
func bytesEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where lhs[index] != rhs[index] { return false }
    return true
}

/// The decimal digits of `value`, written straight into a `String`'s storage (no allocation up to
/// fifteen characters): the rate-limit headers format two numbers on every response.
func decimalString(_ value: Int64) -> String {
    guard value != Int64.min else { return String(value) }
    var magnitude = value.magnitude
    var digits = 1
    var probe = magnitude
    while probe >= 10 {
        probe /= 10
        digits += 1
    }
    let count = digits + (value < 0 ? 1 : 0)
    return String(unsafeUninitializedCapacity: count) { buffer in
        var index = count
        repeat {
            index -= 1
            buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 { buffer[0] = UInt8(ascii: "-") }
        return count
    }
}

/// `first + second + third + fourth` with one allocation (and none when it fits in fifteen bytes).
func concatenated(_ first: String, _ second: String, _ third: String, _ fourth: String) -> String {
    var (first, second, third, fourth) = (first, second, third, fourth)
    let length = first.utf8.count + second.utf8.count + third.utf8.count + fourth.utf8.count
    return String(unsafeUninitializedCapacity: length) { buffer in
        var written = 0
        func append(_ part: inout String) {
            part.withUTF8 { bytes in
                if bytes.count > 0, let source = bytes.baseAddress, let target = buffer.baseAddress { (target + written).initialize(from: source, count: bytes.count) }
                written += bytes.count
            }
        }
        append(&first)
        append(&second)
        append(&third)
        append(&fourth)
        return written
    }
}
