/// HKDF with SHA-256 (RFC 5869), built on ``HMACSHA256Key``.
///
/// ```swift
/// let subkey = try HKDF.deriveKey(from: master, salt: [], info: Array("vault v1".utf8), count: 32)
/// ```
public enum HKDF {
    /// The longest output HKDF-SHA256 can produce: 255 blocks of 32 bytes.
    public static let maximumOutputByteCount = 255 * HMACSHA256Key.tagByteCount

    /// Extract-then-expand: derives `count` bytes from `inputKeyMaterial`.
    ///
    /// An empty salt means a salt of 32 zero bytes, as the RFC says. Throws
    /// ``CryptoError/Code/outputTooLarge`` when `count` exceeds ``maximumOutputByteCount``.
    public static func deriveKey<Salt: Sequence<UInt8>, Info: Sequence<UInt8>>(
        from inputKeyMaterial: SecureBytes, salt: Salt, info: Info, count: Int
    ) throws -> SecureBytes {
        guard count >= 0, count <= maximumOutputByteCount else {
            throw CryptoError(.outputTooLarge, "HKDF-SHA256 produces at most \(maximumOutputByteCount) bytes")
        }
        let pseudorandomKey = extract(inputKeyMaterial, salt: salt)
        return expand(pseudorandomKey, info: Array(info), count: count)
    }

    /// HKDF-Extract: `HMAC(salt, ikm)`.
    static func extract<Salt: Sequence<UInt8>>(_ inputKeyMaterial: SecureBytes, salt: Salt) -> SecureBytes {
        let saltKey = HMACSHA256Key(copying: salt)
        return SecureBytes(count: HMACSHA256Key.tagByteCount) { output in
            inputKeyMaterial.withUnsafeBytes { ikm in
                saltKey.authenticate(into: output.baseAddress!) { $0.update(ikm) }
            }
        }
    }

    /// HKDF-Expand: `T(i) = HMAC(prk, T(i-1) | info | i)`, concatenated and cut to `count`.
    static func expand(_ pseudorandomKey: SecureBytes, info: [UInt8], count: Int) -> SecureBytes {
        let key = HMACSHA256Key(pseudorandomKey)
        let tagBytes = HMACSHA256Key.tagByteCount
        return SecureBytes(count: count) { output in
            withUnsafeTemporaryAllocation(byteCount: tagBytes, alignment: 16) { block in
                var previous = UnsafeRawBufferPointer(start: block.baseAddress, count: 0)
                var written = 0
                var counter: UInt8 = 1
                while written < count {
                    key.authenticate(into: block.baseAddress!) { feeder in
                        feeder.update(previous)
                        info.withUnsafeBytes { feeder.update($0) }
                        withUnsafeBytes(of: counter) { feeder.update($0) }
                    }
                    previous = UnsafeRawBufferPointer(block)
                    let take = min(tagBytes, count - written)
                    output.baseAddress!.advanced(by: written).copyMemory(from: block.baseAddress!, byteCount: take)
                    written += take
                    counter &+= 1
                }
                block.initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
    }
}
