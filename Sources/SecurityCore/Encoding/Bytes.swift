/// Whether two byte buffers hold the same bytes. Not constant time: for public data only (route
/// patterns, key ids), never for secrets or tags (those use ``ConstantTime``).
@inline(__always)
func bytesEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where lhs[index] != rhs[index] { return false }
    return true
}

/// The part of `text` at UTF-8 offsets `range`, as found by a scan of `withUTF8`. The offsets must
/// fall on character boundaries (the scans cut at ASCII bytes); for native strings this is
/// constant time.
func slice(_ text: Substring, utf8 range: Range<Int>) -> Substring {
    let utf8 = text.utf8
    return text[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)]
}
