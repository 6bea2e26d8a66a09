internal import COpenSSL
import Synchronization

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag, through OpenSSL's EVP interface.
///
/// The cipher is fetched from OpenSSL once per process. Each key keeps a small pool of cipher
/// contexts that already hold its expanded key schedule, so a seal or open only sets the nonce and
/// runs; contexts are taken from the pool under a lock and returned after use, so one key serves
/// any number of tasks. Any other key, nonce or tag length is rejected with a ``CryptoError``.
///
/// Nonces are a random 96-bit start per key object plus a counter (a `NonceSequence`); rotate
/// keys long before 2³² messages all the same, as NIST advises for GCM.
///
/// ```swift
/// let key = try AESGCMKey(SecureBytes.random(count: 32))
/// let box = try key.seal(Array("secret".utf8), authenticating: Array("record-42".utf8))
/// let plaintext = try key.open(box, authenticating: Array("record-42".utf8))
/// ```
public struct AESGCMKey: Sendable {
    /// The only key length accepted: 256 bits.
    public static let keyByteCount = 32
    /// The only nonce length accepted: 96 bits.
    public static let nonceByteCount = 12
    /// The only tag length produced or accepted: 128 bits.
    public static let tagByteCount = 16

    let contexts: ContextPool

    /// Prepares a 32-byte key. Throws ``CryptoError/Code/invalidKeySize`` for any other length.
    public init(_ key: SecureBytes) throws {
        guard key.count == Self.keyByteCount else {
            throw CryptoError(.invalidKeySize, "AES-256-GCM needs a 32-byte key")
        }
        guard let cipher = EVPCipher.aes256GCM.pointer else {
            throw CryptoError(.backendFailure, "OpenSSL has no AES-256-GCM implementation")
        }
        self.contexts = try ContextPool(cipher: cipher, key: key)
    }

    /// Encrypts `plaintext` under a fresh nonce and authenticates it with `associatedData`.
    ///
    /// Nonces come from the key's nonce sequence: a random 96-bit start, then a counter, so no
    /// two seals through one key object share a nonce and none costs a random draw.
    public func seal<Plaintext: Sequence<UInt8>, AAD: Sequence<UInt8>>(
        _ plaintext: Plaintext, authenticating associatedData: AAD
    ) throws -> SealedBox {
        try seal(plaintext, nonce: contexts.nonces.next(), authenticating: associatedData)
    }

    /// Encrypts with a caller-chosen nonce. A nonce must never be used twice with one key; prefer
    /// ``seal(_:authenticating:)``, which picks a fresh one.
    public func seal<Plaintext: Sequence<UInt8>, AAD: Sequence<UInt8>>(
        _ plaintext: Plaintext, nonce: [UInt8], authenticating associatedData: AAD
    ) throws -> SealedBox {
        try withBytes(of: plaintext) { message in
            try withBytes(of: associatedData) { aad in try seal(message, nonce: nonce, aad: aad) }
        }
    }

    /// ``seal(_:authenticating:)`` for arrays, as the vault calls it.
    func seal(_ plaintext: [UInt8], authenticating associatedData: [UInt8]) throws -> SealedBox {
        let nonce = contexts.nonces.next()
        return try plaintext.withUnsafeBytes { message in
            try associatedData.withUnsafeBytes { aad in try seal(message, nonce: nonce, aad: aad) }
        }
    }

    private func seal(_ message: UnsafeRawBufferPointer, nonce: [UInt8], aad: UnsafeRawBufferPointer) throws -> SealedBox {
        guard nonce.count == Self.nonceByteCount else {
            throw CryptoError(.invalidNonceSize, "AES-256-GCM needs a 12-byte nonce")
        }
        guard message.count <= Int(Int32.max), aad.count <= Int(Int32.max) else {
            throw CryptoError(.inputTooLarge, "AES-256-GCM input is limited to 2 GiB per call")
        }
        var tag = [UInt8](repeating: 0, count: Self.tagByteCount)
        let ciphertext = try [UInt8](unsafeUninitializedCapacity: max(message.count, 1)) { output, initialized in
            try nonce.withUnsafeBytes { nonceBytes in
                try tag.withUnsafeMutableBytes { tagBytes in
                    try contexts.seal(
                        message, into: UnsafeMutableRawPointer(output.baseAddress!),
                        nonce: nonceBytes, aad: aad, tag: tagBytes
                    )
                }
            }
            initialized = message.count
        }
        return SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag)
    }

    /// Decrypts and authenticates `box`. The plaintext is returned only when the tag matches the
    /// key, nonce, ciphertext and `associatedData`; otherwise ``CryptoError/Code/authenticationFailed``.
    public func open<AAD: Sequence<UInt8>>(
        _ box: SealedBox, authenticating associatedData: AAD
    ) throws -> SecureBytes {
        try withBytes(of: associatedData) { aad in try open(box, aad: aad) }
    }

    /// ``open(_:authenticating:)`` for arrays, as the vault calls it.
    func open(_ box: SealedBox, authenticating associatedData: [UInt8]) throws -> SecureBytes {
        try associatedData.withUnsafeBytes { aad in try open(box, aad: aad) }
    }

    private func open(_ box: SealedBox, aad: UnsafeRawBufferPointer) throws -> SecureBytes {
        guard box.nonce.count == Self.nonceByteCount else {
            throw CryptoError(.invalidNonceSize, "AES-256-GCM needs a 12-byte nonce")
        }
        guard box.tag.count == Self.tagByteCount else {
            throw CryptoError(.invalidTagSize, "AES-256-GCM needs a 16-byte tag")
        }
        guard box.ciphertext.count <= Int(Int32.max), aad.count <= Int(Int32.max) else {
            throw CryptoError(.inputTooLarge, "AES-256-GCM input is limited to 2 GiB per call")
        }
        return try SecureBytes(count: box.ciphertext.count) { output in
            try box.ciphertext.withUnsafeBytes { ciphertext in
                try box.nonce.withUnsafeBytes { nonce in
                    try box.tag.withUnsafeBytes { tag in
                        try contexts.open(ciphertext, into: output.baseAddress!, nonce: nonce, aad: aad, tag: tag)
                    }
                }
            }
        }
    }
}

/// OpenSSL's fetched AES-256-GCM implementation. Fetched cipher objects are immutable and
/// documented as safe to share between threads, so the wrapper needs no lock.
extension AESGCMKey {
    /// Seals `plaintext` and returns `prefix ‖ nonce ‖ ciphertext ‖ tag` in one array: the vault's
    /// record layout, without intermediate arrays.
    func seal(_ plaintext: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, prefix: [UInt8]) throws -> [UInt8] {
        guard plaintext.count <= Int(Int32.max), aad.count <= Int(Int32.max) else {
            throw CryptoError(.inputTooLarge, "AES-256-GCM input is limited to 2 GiB per call")
        }
        let nonce = contexts.nonces.next()
        let total = prefix.count + Self.nonceByteCount + plaintext.count + Self.tagByteCount
        return try [UInt8](unsafeUninitializedCapacity: total) { output, initialized in
            let base = UnsafeMutableRawPointer(output.baseAddress!)
            prefix.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: prefix.count) }
            nonce.withUnsafeBytes { (base + prefix.count).copyMemory(from: $0.baseAddress!, byteCount: Self.nonceByteCount) }
            let body = base + prefix.count + Self.nonceByteCount
            try nonce.withUnsafeBytes { nonceBytes in
                try contexts.seal(
                    plaintext, into: body, nonce: nonceBytes, aad: aad,
                    tag: UnsafeMutableRawBufferPointer(start: body + plaintext.count, count: Self.tagByteCount)
                )
            }
            initialized = total
        }
    }

    /// The vault's sealing, for code outside Crypto: `plaintext` read where SecureBytes keeps it.
    func seal(_ plaintext: SecureBytes, aad: [UInt8], prefix: [UInt8]) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { plain in try aad.withUnsafeBytes { try seal(plain, aad: $0, prefix: prefix) } }
    }

    /// Opens `bytes` from `offset` on (`nonce ‖ ciphertext ‖ tag`), read in place: the vault's
    /// opening, for code outside Crypto.
    func open(_ bytes: [UInt8], from offset: Int, aad: [UInt8]) throws -> SecureBytes {
        try bytes.withUnsafeBytes { all in
            try aad.withUnsafeBytes { try open(combined: UnsafeRawBufferPointer(rebasing: all[offset...]), aad: $0) }
        }
    }

    /// Opens `nonce ‖ ciphertext ‖ tag` read in place.
    func open(combined: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer) throws -> SecureBytes {
        guard combined.count >= Self.nonceByteCount + Self.tagByteCount else {
            throw CryptoError(.invalidTagSize, "AES-256-GCM input is shorter than a nonce and a tag")
        }
        guard combined.count <= Int(Int32.max), aad.count <= Int(Int32.max) else {
            throw CryptoError(.inputTooLarge, "AES-256-GCM input is limited to 2 GiB per call")
        }
        let nonce = UnsafeRawBufferPointer(rebasing: combined[..<Self.nonceByteCount])
        let ciphertext = UnsafeRawBufferPointer(rebasing: combined[Self.nonceByteCount..<(combined.count - Self.tagByteCount)])
        let tag = UnsafeRawBufferPointer(rebasing: combined[(combined.count - Self.tagByteCount)...])
        return try SecureBytes(count: ciphertext.count) { output in
            try contexts.open(ciphertext, into: output.baseAddress!, nonce: nonce, aad: aad, tag: tag)
        }
    }
}

// @unchecked: the pointer is OpenSSL's fetched AES-256-GCM algorithm, fetched once and never
// changed or freed; OpenSSL documents fetched algorithms as safe to share between threads, so no
// lock is needed.
struct EVPCipher: @unchecked Sendable {
    let pointer: OpaquePointer?

    static let aes256GCM = EVPCipher(pointer: EVP_CIPHER_fetch(nil, "AES-256-GCM", nil))
}

/// Cipher contexts keyed once, handed out one task at a time.
final class ContextPool: Sendable {
    /// A context is used by one task at a time: it is either idle (in a list behind the pool's
    /// mutex) or held by exactly one caller between `take` and `give`.
    // @unchecked: the pointer is an OpenSSL cipher context, which is not thread-safe. While idle it
    // is guarded by the pool's mutex; otherwise exactly one caller owns it, so it is never shared.
    struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static let maximumIdle = 16
    let nonces: NonceSequence
    private let cipher: EVPCipher
    private let key: SecureBytes
    /// Idle contexts per direction, kept for the next seal or open.
    private let idle = Mutex<(sealers: [Context], openers: [Context])>(([], []))

    init(cipher: OpaquePointer, key: SecureBytes) throws {
        self.nonces = try NonceSequence()
        self.cipher = EVPCipher(pointer: cipher)
        self.key = key
    }

    deinit {
        // EVP_CIPHER_CTX_free cleanses the expanded key schedule before freeing it.
        idle.withLock { idle in (idle.sealers + idle.openers).forEach { EVP_CIPHER_CTX_free($0.pointer) } }
    }

    private func take(encrypting: Bool) throws -> Context {
        let waiting = idle.withLock { encrypting ? $0.sealers.popLast() : $0.openers.popLast() }
        if let waiting { return waiting }
        guard let pointer = EVP_CIPHER_CTX_new() else {
            throw CryptoError(.backendFailure, "OpenSSL could not allocate a cipher context")
        }
        let ready = key.withUnsafeBytes { keyBytes in
            let keyPointer = keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return encrypting
                ? EVP_EncryptInit_ex2(pointer, cipher.pointer, keyPointer, nil, nil)
                : EVP_DecryptInit_ex2(pointer, cipher.pointer, keyPointer, nil, nil)
        }
        guard ready == 1 else {
            EVP_CIPHER_CTX_free(pointer)
            throw CryptoError(.backendFailure, "OpenSSL could not key an AES-256-GCM context")
        }
        return Context(pointer: pointer)
    }

    private func give(_ context: Context, encrypting: Bool) {
        let kept = idle.withLock { idle in
            if encrypting {
                guard idle.sealers.count < Self.maximumIdle else { return false }
                idle.sealers.append(context)
            } else {
                guard idle.openers.count < Self.maximumIdle else { return false }
                idle.openers.append(context)
            }
            return true
        }
        if !kept { EVP_CIPHER_CTX_free(context.pointer) }
    }

    /// Runs one operation on a pooled context; a context whose operation failed is freed rather than
    /// reused, since its state is then unknown.
    private func withContext(
        encrypting: Bool, _ body: (OpaquePointer) -> Bool
    ) throws -> Bool {
        let context = try take(encrypting: encrypting)
        let succeeded = body(context.pointer)
        if succeeded {
            give(context, encrypting: encrypting)
        } else {
            EVP_CIPHER_CTX_free(context.pointer)
        }
        return succeeded
    }

    func seal(
        _ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer,
        nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, tag: UnsafeMutableRawBufferPointer
    ) throws {
        let ok = try withContext(encrypting: true) { context in
            var written: Int32 = 0
            let out = output.assumingMemoryBound(to: UInt8.self)
            // The context keeps its key; this sets only the nonce (12 bytes, GCM's default length).
            guard EVP_EncryptInit_ex2(context, nil, nil, typed(nonce), nil) == 1 else { return false }
            if aad.count > 0 {
                guard EVP_EncryptUpdate(context, nil, &written, typed(aad), Int32(aad.count)) == 1 else { return false }
            }
            var produced = 0
            if message.count > 0 {
                guard EVP_EncryptUpdate(context, out, &written, typed(message), Int32(message.count)) == 1 else {
                    return false
                }
                produced = Int(written)
            }
            guard EVP_EncryptFinal_ex(context, out + produced, &written) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tag.count), tag.baseAddress) == 1
        }
        guard ok else { throw CryptoError(.backendFailure, "AES-256-GCM encryption failed") }
    }

    func open(
        _ ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer,
        nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer
    ) throws {
        var authentic = false
        _ = try withContext(encrypting: false) { context in
            var written: Int32 = 0
            let out = output.assumingMemoryBound(to: UInt8.self)
            guard EVP_DecryptInit_ex2(context, nil, nil, typed(nonce), nil) == 1 else { return false }
            if aad.count > 0 {
                guard EVP_DecryptUpdate(context, nil, &written, typed(aad), Int32(aad.count)) == 1 else { return false }
            }
            var produced = 0
            if ciphertext.count > 0 {
                guard EVP_DecryptUpdate(context, out, &written, typed(ciphertext), Int32(ciphertext.count)) == 1 else {
                    return false
                }
                produced = Int(written)
            }
            // OpenSSL only reads the expected tag; the mutable pointer is its API's signature.
            let expected = UnsafeMutableRawPointer(mutating: tag.baseAddress)
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tag.count), expected) == 1 else { return false }
            // A tag mismatch leaves the context in a well-defined state: the next use sets a new nonce.
            authentic = EVP_DecryptFinal_ex(context, out + produced, &written) == 1
            return true
        }
        guard authentic else {
            // Do not hand back unauthenticated plaintext, even to the caller's buffer.
            output.initializeMemory(as: UInt8.self, repeating: 0, count: ciphertext.count)
            throw CryptoError.authenticationFailed()
        }
    }
}

/// 96-bit nonces for one key object: a random start, then +1 per nonce (NIST SP 800-38D §8.2.1's
/// deterministic construction, with a random rather than fixed field).
///
/// Within one key object no nonce repeats for 2⁶⁴ seals; two key objects over the same key (two
/// processes, a restart) start at independent random 96-bit points, so their ranges overlap with
/// negligible probability. Drawing the start is the only call to the random generator.
final class NonceSequence: Sendable {
    private let fixed: UInt32
    private let counter: Atomic<UInt64>

    init() throws {
        var start = (UInt32(0), UInt64(0))
        try withUnsafeMutableBytes(of: &start) { try SecureRandom.fill($0) }
        fixed = start.0
        counter = Atomic(start.1)
    }

    func next() -> [UInt8] {
        let value = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        var nonce = [UInt8](repeating: 0, count: 12)
        for index in 0..<4 { nonce[index] = UInt8(truncatingIfNeeded: fixed >> UInt32(24 - 8 * index)) }
        for index in 0..<8 { nonce[4 + index] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * index)) }
        return nonce
    }
}
