internal import COpenSSL

/// Comparisons whose running time does not depend on where two byte strings differ.
public enum ConstantTime {
    /// Whether two byte buffers are equal, in time that depends only on their length.
    ///
    /// A length mismatch returns `false` at once: lengths are public, contents are not.
    public static func equals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0, let l = lhs.baseAddress, let r = rhs.baseAddress else { return true }
        // OpenSSL's CRYPTO_memcmp: assembly whose running time depends only on the length.
        return CRYPTO_memcmp(l, r, lhs.count) == 0
    }

    /// Whether two byte sequences are equal, in time that depends only on their length.
    ///
    /// ```swift
    /// ConstantTime.equals(expectedTag, presentedTag)
    /// ```
    public static func equals<L: Sequence<UInt8>, R: Sequence<UInt8>>(_ lhs: L, _ rhs: R) -> Bool {
        withBytes(of: lhs) { l in withBytes(of: rhs) { r in equals(l, r) } }
    }

    /// Whether two arrays are equal, in time that depends only on their length; the non-generic path.
    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in equals(l, r) } }
    }
}
