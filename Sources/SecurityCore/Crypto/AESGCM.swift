internal import COpenSSL
import Synchronization

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag, through OpenSSL's EVP interface.
///
/// The cipher is fetched from OpenSSL once per process. Each key keeps a small pool of cipher
/// contexts that already hold its expanded key schedule, so a seal or open only sets the nonce and
/// runs; contexts are taken from the pool under a lock and returned after use, so one key serves
/// any number of tasks. Any other key, nonce or tag length is rejected with a ``CryptoError``.
///
/// Nonces are a random 96-bit start per key object plus a counter (see ``NonceSequence``); rotate
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
        try self.init(key, noncesByParameter: ContextPool.noncesByParameterWork)
    }

    /// ``init(_:)`` with the way nonces reach OpenSSL chosen (tests run both ways).
    init(_ key: SecureBytes, noncesByParameter: Bool) throws {
        guard key.count == Self.keyByteCount else {
            throw CryptoError(.invalidKeySize, "AES-256-GCM needs a 32-byte key")
        }
        guard let cipher = EVPCipher.aes256GCM.pointer else {
            throw CryptoError(.backendFailure, "OpenSSL has no AES-256-GCM implementation")
        }
        self.contexts = try ContextPool(cipher: cipher, key: key, noncesByParameter: noncesByParameter)
    }

    /// Encrypts `plaintext` under a fresh nonce and authenticates it with `associatedData`.
    ///
    /// Nonces come from the key's ``NonceSequence``: a random 96-bit start, then a counter, so no
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

    /// ``seal(_:authenticating:)`` for arrays, without the generic detour (the common case).
    public func seal(_ plaintext: [UInt8], authenticating associatedData: [UInt8]) throws -> SealedBox {
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

    /// ``open(_:authenticating:)`` for arrays, without the generic detour (the common case).
    public func open(_ box: SealedBox, authenticating associatedData: [UInt8]) throws -> SecureBytes {
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
    /// A context is used by one task at a time: it is either idle (in a direction's atomic slot or
    /// in its list behind the mutex) or held by exactly one caller between `take` and `give`.
    // @unchecked: the pointer is an OpenSSL cipher context, which is not thread-safe. While idle it
    // is guarded either by the pool's mutex (the lists) or by its atomic slot, which hands it to
    // exactly one taker through an acquiring exchange; otherwise exactly one caller owns it, so it
    // is never shared.
    struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static let maximumIdle = 16
    /// `OSSL_CIPHER_PARAM_AEAD_TAG` ("tag") with a static address: OSSL_PARAM keeps the pointer.
    private static var tagParameterName: UnsafePointer<CChar> {
        UnsafeRawPointer(("tag" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
    }
    /// `OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED` ("tlsivfixed"), likewise.
    private static var wholeIVParameterName: UnsafePointer<CChar> {
        UnsafeRawPointer(("tlsivfixed" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
    }
    let nonces: NonceSequence
    /// Whether nonces go in as a parameter (see ``start(_:encrypting:nonce:expectedTag:)``):
    /// ``noncesByParameterWork`` unless a test asks for the documented init call.
    let noncesByParameter: Bool
    private let cipher: EVPCipher
    private let key: SecureBytes
    /// One idle context per direction waits here, taken and put back with one atomic exchange
    /// each: the common case of one task at a time never touches a lock. The pointer is stored
    /// as its address, 0 for none.
    private let readySealer = Atomic<UInt>(0)
    private let readyOpener = Atomic<UInt>(0)
    /// Contexts beyond the one in each slot, when several tasks use the key at once.
    private let idleSealers = Mutex<[Context]>([])
    private let idleOpeners = Mutex<[Context]>([])

    init(cipher: OpaquePointer, key: SecureBytes, noncesByParameter: Bool) throws {
        self.nonces = try NonceSequence()
        self.noncesByParameter = noncesByParameter
        self.cipher = EVPCipher(pointer: cipher)
        self.key = key
        idleSealers.withLock { $0.reserveCapacity(Self.maximumIdle) }
        idleOpeners.withLock { $0.reserveCapacity(Self.maximumIdle) }
    }

    deinit {
        // EVP_CIPHER_CTX_free cleanses the expanded key schedule before freeing it.
        if let pointer = OpaquePointer(bitPattern: readySealer.load(ordering: .acquiring)) { EVP_CIPHER_CTX_free(pointer) }
        if let pointer = OpaquePointer(bitPattern: readyOpener.load(ordering: .acquiring)) { EVP_CIPHER_CTX_free(pointer) }
        idleSealers.withLock { contexts in contexts.forEach { EVP_CIPHER_CTX_free($0.pointer) } }
        idleOpeners.withLock { contexts in contexts.forEach { EVP_CIPHER_CTX_free($0.pointer) } }
    }

    private func take(encrypting: Bool) throws -> Context {
        // Acquiring: the previous user's writes to the context happen before this use.
        let waiting = encrypting
            ? readySealer.exchange(0, ordering: .acquiring) : readyOpener.exchange(0, ordering: .acquiring)
        if let pointer = OpaquePointer(bitPattern: waiting) { return Context(pointer: pointer) }
        let idle = encrypting
            ? idleSealers.withLock { $0.popLast() }
            : idleOpeners.withLock { $0.popLast() }
        if let idle { return idle }
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
        let address = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(context.pointer)))
        // Releasing: this use's writes happen before the next taker's.
        let parked = encrypting
            ? readySealer.compareExchange(expected: 0, desired: address, ordering: .releasing).exchanged
            : readyOpener.compareExchange(expected: 0, desired: address, ordering: .releasing).exchanged
        if parked { return }
        func keep(_ contexts: inout [Context]) -> Bool {
            guard contexts.count < Self.maximumIdle else { return false }
            contexts.append(context)
            return true
        }
        let kept = encrypting ? idleSealers.withLock { keep(&$0) } : idleOpeners.withLock { keep(&$0) }
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
            guard start(context, encrypting: true, nonce: nonce, expectedTag: nil) else { return false }
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
            guard start(context, encrypting: false, nonce: nonce, expectedTag: tag) else { return false }
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

    /// Readies a keyed context for one message: sets the 12-byte nonce and, when opening, the tag
    /// the message must carry.
    ///
    /// The documented way is `EVP_EncryptInit_ex2`/`EVP_DecryptInit_ex2` with the nonce, but in
    /// OpenSSL 3.0 each such call also asks the provider for the nonce length through a parameter
    /// query: about 90 of the 255 ns a 64-byte open costs. Where ``noncesByParameter`` holds, the
    /// nonce goes in as GCM's whole-IV parameter instead ("tlsivfixed" with length -1, which
    /// OpenSSL's GCM code has treated as "this is the whole IV" since 1.0.1), in the same
    /// `EVP_CIPHER_CTX_set_params` call as the tag. The nonce length was checked by the caller.
    private func start(
        _ context: OpaquePointer, encrypting: Bool, nonce: UnsafeRawBufferPointer, expectedTag: UnsafeRawBufferPointer?
    ) -> Bool {
        let end = OSSL_PARAM()
        let tag = expectedTag.map { Self.octetString(Self.tagParameterName, $0.baseAddress, count: $0.count) }
        guard noncesByParameter else {
            // The tag, if any, is an init parameter: one provider call instead of a separate
            // EVP_CIPHER_CTX_ctrl(SET_TAG), which OpenSSL 3 translates into parameters anyway.
            var parameters = (tag ?? end, end)
            return withUnsafeMutableBytes(of: &parameters) { raw in
                let list = raw.baseAddress!.assumingMemoryBound(to: OSSL_PARAM.self)
                return encrypting
                    ? EVP_EncryptInit_ex2(context, nil, nil, typed(nonce), list) == 1
                    : EVP_DecryptInit_ex2(context, nil, nil, typed(nonce), list) == 1
            }
        }
        // Length -1 (size_t's largest value) is the "whole IV" case; OpenSSL copies the 12 bytes.
        let wholeIV = Self.octetString(Self.wholeIVParameterName, nonce.baseAddress, count: -1)
        // The tag first: OpenSSL looks each name up in this list in turn, and "tag" is the first it asks for.
        var parameters = tag.map { ($0, wholeIV, end) } ?? (wholeIV, end, end)
        return withUnsafeMutableBytes(of: &parameters) { raw in
            EVP_CIPHER_CTX_set_params(context, raw.baseAddress!.assumingMemoryBound(to: OSSL_PARAM.self)) == 1
        }
    }

    /// What `OSSL_PARAM_construct_octet_string` builds, built in place: the call returns its
    /// 40-byte struct through memory, and reading it back stalled on every message. A zeroed
    /// `OSSL_PARAM()` is the list's end marker.
    @inline(__always)
    private static func octetString(_ name: UnsafePointer<CChar>, _ bytes: UnsafeRawPointer?, count: Int) -> OSSL_PARAM {
        // return_size starts as OSSL_PARAM_UNMODIFIED, ((size_t)-1), as the constructor sets it.
        OSSL_PARAM(
            key: name, data_type: UInt32(OSSL_PARAM_OCTET_STRING), data: UnsafeMutableRawPointer(mutating: bytes),
            data_size: count, return_size: -1
        )
    }

    /// Whether this OpenSSL takes the nonce as the whole-IV parameter, decided once per process by
    /// a known-answer check through the pools' own `seal` and `open`: two messages sealed under
    /// different nonces on one context must match, byte for byte, what the documented init call
    /// produces, and each must open on one context after a try with a flipped tag bit, which must
    /// be refused. When the check fails (a future OpenSSL that reads the parameter differently),
    /// every context uses the documented init call, so a mismatch can cost speed but never a
    /// wrong nonce.
    static let noncesByParameterWork: Bool = {
        guard let cipher = EVPCipher.aes256GCM.pointer else { return false }
        let key = SecureBytes(copying: [UInt8](repeating: 0x5A, count: AESGCMKey.keyByteCount))
        guard let documented = try? ContextPool(cipher: cipher, key: key, noncesByParameter: false),
              let candidate = try? ContextPool(cipher: cipher, key: key, noncesByParameter: true)
        else { return false }
        let aad = [UInt8]((0..<20).map { UInt8($0) })
        let message = [UInt8]((0..<67).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let tagStart = message.count
        // ciphertext ‖ tag, or nil when sealing failed.
        func seal(_ pool: ContextPool, nonce: [UInt8]) -> [UInt8]? {
            var output = [UInt8](repeating: 0, count: message.count + AESGCMKey.tagByteCount)
            let sealed: ()? = try? output.withUnsafeMutableBytes { out in
                try message.withUnsafeBytes { plaintext in
                    try aad.withUnsafeBytes { aadBytes in
                        try nonce.withUnsafeBytes { nonceBytes in
                            try pool.seal(
                                plaintext, into: out.baseAddress!, nonce: nonceBytes, aad: aadBytes,
                                tag: UnsafeMutableRawBufferPointer(rebasing: out[tagStart...])
                            )
                        }
                    }
                }
            }
            return sealed == nil ? nil : output
        }
        // Whether `sealed` opens to `message` with its tag's first bit flipped or not.
        func opens(_ sealed: [UInt8], nonce: [UInt8], flippingTag flip: UInt8) -> Bool {
            var tag = [UInt8](sealed[tagStart...])
            tag[0] ^= flip
            var output = [UInt8](repeating: 0, count: message.count)
            let opened: ()? = try? output.withUnsafeMutableBytes { out in
                try sealed.withUnsafeBytes { box in
                    try aad.withUnsafeBytes { aadBytes in
                        try nonce.withUnsafeBytes { nonceBytes in
                            try tag.withUnsafeBytes { tagBytes in
                                try candidate.open(
                                    UnsafeRawBufferPointer(rebasing: box[..<tagStart]), into: out.baseAddress!,
                                    nonce: nonceBytes, aad: aadBytes, tag: tagBytes
                                )
                            }
                        }
                    }
                }
            }
            return opened != nil && output == message
        }
        var previous: [UInt8]?
        for nonce in [(1...12).map { UInt8($0) }, (1...12).map { UInt8(0xF0 - $0) }] {
            guard let expected = seal(documented, nonce: nonce), seal(candidate, nonce: nonce) == expected,
                  expected != previous, !opens(expected, nonce: nonce, flippingTag: 1),
                  opens(expected, nonce: nonce, flippingTag: 0)
            else { return false }
            previous = expected
        }
        return true
    }()
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
