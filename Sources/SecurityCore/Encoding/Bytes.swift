/// Whether two byte buffers hold the same bytes. Not constant time: for public data only (route
/// patterns, key ids), never for secrets or tags (those use ``ConstantTime``).
@inline(__always)
func bytesEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where lhs[index] != rhs[index] { return false }
    return true
}
