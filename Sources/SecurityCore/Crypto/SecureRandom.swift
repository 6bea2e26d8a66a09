internal import COpenSSL

/// Random bytes for values that must be unpredictable but are not keys: nonces and token ids.
///
/// Drawn from OpenSSL's per-thread DRBG, which is seeded from the operating system and then runs in
/// user space, so a nonce does not cost a system call. Keys come from ``SecureBytes/random(count:)``,
/// which asks the kernel directly.
public enum SecureRandom {
    /// Fills `buffer` with random bytes, or throws if the generator fails (nothing is produced).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        guard buffer.count <= Int(Int32.max),
            RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1
        else {
            throw CryptoError(.randomFailure, "the random number generator failed")
        }
    }

    /// `count` random bytes.
    public static func bytes(count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { buffer in try fill(buffer) }
        return result
    }
}
