internal import CSodium

/// XChaCha20-Poly1305 (libsodium's IETF construction): a 32-byte key, a 24-byte nonce that is safe
/// to pick at random for any number of messages, and a 16-byte tag.
///
/// The portable AEAD, for machines without hardware AES and for long-lived keys where random
/// 12-byte nonces would run short.
public struct XChaCha20Poly1305Key: Sendable {
    /// The only key length accepted.
    public static let keyByteCount = 32
    /// The only nonce length accepted.
    public static let nonceByteCount = 24
    /// The only tag length produced or accepted.
    public static let tagByteCount = 16

    let key: SecureBytes

    /// Uses a 32-byte key. Throws ``CryptoError/Code/invalidKeySize`` for any other length.
    public init(_ key: SecureBytes) throws {
        guard key.count == Self.keyByteCount else {
            throw CryptoError(.invalidKeySize, "XChaCha20-Poly1305 needs a 32-byte key")
        }
        Sodium.ensureInitialized()
        self.key = key
    }

    /// Encrypts `plaintext` under a fresh random nonce, authenticating `associatedData` too.
    public func seal<Plaintext: Sequence<UInt8>, AAD: Sequence<UInt8>>(
        _ plaintext: Plaintext, authenticating associatedData: AAD
    ) throws -> SealedBox {
        var nonce = [UInt8](repeating: 0, count: Self.nonceByteCount)
        try nonce.withUnsafeMutableBytes { try SecureRandom.fill($0) }
        return try seal(plaintext, nonce: nonce, authenticating: associatedData)
    }

    /// Encrypts with a caller-chosen nonce, which must never repeat under one key.
    public func seal<Plaintext: Sequence<UInt8>, AAD: Sequence<UInt8>>(
        _ plaintext: Plaintext, nonce: [UInt8], authenticating associatedData: AAD
    ) throws -> SealedBox {
        guard nonce.count == Self.nonceByteCount else {
            throw CryptoError(.invalidNonceSize, "XChaCha20-Poly1305 needs a 24-byte nonce")
        }
        return try withBytes(of: plaintext) { message in
            try withBytes(of: associatedData) { aad in
                var tag = [UInt8](repeating: 0, count: Self.tagByteCount)
                var status: Int32 = -1
                let ciphertext = [UInt8](unsafeUninitializedCapacity: max(message.count, 1)) { output, initialized in
                    status = tag.withUnsafeMutableBufferPointer { tagBytes in
                        key.withUnsafeBytes { keyBytes in
                            crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
                                output.baseAddress!, tagBytes.baseAddress!, nil,
                                readable(message), UInt64(message.count),
                                readable(aad), UInt64(aad.count),
                                nil, nonce, readable(keyBytes)
                            )
                        }
                    }
                    initialized = status == 0 ? message.count : 0
                }
                guard status == 0 else {
                    throw CryptoError(.backendFailure, "XChaCha20-Poly1305 encryption failed")
                }
                return SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag)
            }
        }
    }

    /// Decrypts `box` if its tag matches; otherwise throws ``CryptoError/Code/authenticationFailed``.
    public func open<AAD: Sequence<UInt8>>(
        _ box: SealedBox, authenticating associatedData: AAD
    ) throws -> SecureBytes {
        guard box.nonce.count == Self.nonceByteCount else {
            throw CryptoError(.invalidNonceSize, "XChaCha20-Poly1305 needs a 24-byte nonce")
        }
        guard box.tag.count == Self.tagByteCount else {
            throw CryptoError(.invalidTagSize, "XChaCha20-Poly1305 needs a 16-byte tag")
        }
        return try withBytes(of: associatedData) { aad in
            var status: Int32 = -1
            let plaintext = SecureBytes(count: box.ciphertext.count) { output in
                status = box.ciphertext.withUnsafeBytes { ciphertext in
                    key.withUnsafeBytes { keyBytes in
                        crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                            output.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                            readable(ciphertext), UInt64(ciphertext.count),
                            box.tag, readable(aad), UInt64(aad.count), box.nonce, readable(keyBytes)
                        )
                    }
                }
            }
            guard status == 0 else { throw CryptoError.authenticationFailed() }
            return plaintext
        }
    }
}

/// A pointer C code may be handed for `buffer` even when it is empty. The C side never reads past
/// the length it is given, so for an empty buffer the pointer only has to be valid, not meaningful.
@inline(__always)
func readable(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
    buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? EmptyBuffer.pointer
}

@inline(__always)
func typed(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
    buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
}

enum EmptyBuffer {
    // Allocated once and never written or freed; only its address is used, for zero-length reads.
    nonisolated(unsafe) static let pointer = UnsafePointer(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))
}
