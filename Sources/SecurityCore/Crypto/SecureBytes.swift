internal import CSodium

/// Bytes of key material: zeroed when the last copy is released, never printed, compared only in
/// constant time.
///
/// `SecureBytes` is a value with reference storage; copies share one buffer, which is wiped with
/// `sodium_memzero` when the last copy goes away. Its `description`, `debugDescription` and mirror
/// say only that it is redacted, so it cannot leak through logging or string interpolation.
// @unchecked: `storage` is a ManagedBuffer (never Sendable), but its bytes are written only
// inside `init`, before any other task can see them, and only read afterwards; no lock is needed.
public struct SecureBytes: @unchecked Sendable {
    // One allocation holds the length and the bytes. `deinit` runs when no copy of the
    // SecureBytes remains and wipes the bytes.
    final class Storage: ManagedBuffer<Int, UInt8> {
        static func make(count: Int) -> Storage {
            let buffer = Storage.create(minimumCapacity: Swift.max(count, 1)) { _ in count }
            return unsafeDowncast(buffer, to: Storage.self)
        }

        var count: Int { header }

        var pointer: UnsafeMutableRawPointer {
            withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }
        }

        deinit {
            withUnsafeMutablePointers { count, bytes in
                sodium_memzero(bytes, Swift.max(count.pointee, 1))
            }
        }
    }

    let storage: Storage

    /// Copies `bytes` into fresh secure storage. The caller remains responsible for its own copy.
    public init<Bytes: Sequence<UInt8>>(copying bytes: Bytes) {
        Sodium.ensureInitialized()
        let array = bytes.withContiguousStorageIfAvailable { Storage.copy(UnsafeRawBufferPointer($0)) }
        if let array {
            self.storage = array
        } else {
            var temporary = Array(bytes)
            self.storage = temporary.withUnsafeBytes { Storage.copy($0) }
            temporary.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        }
    }

    /// Creates `count` bytes and lets `initializer` write them; used to receive derived keys
    /// without an intermediate copy.
    init<Failure: Error>(
        count: Int, initializer: (UnsafeMutableRawBufferPointer) throws(Failure) -> Void
    ) throws(Failure) {
        Sodium.ensureInitialized()
        let storage = Storage.make(count: count)
        try initializer(UnsafeMutableRawBufferPointer(start: storage.pointer, count: count))
        self.storage = storage
    }

    /// `count` bytes from the operating system's random source (libsodium `randombytes_buf`).
    public static func random(count: Int) -> SecureBytes {
        precondition(count >= 0, "count must not be negative")
        return SecureBytes(count: count) { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 {
                randombytes_buf(base, buffer.count)
            }
        }
    }

    /// The number of bytes held.
    public var count: Int { storage.count }

    /// Lends the bytes to `body`. Do not let the pointer escape.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeRawBufferPointer(start: storage.pointer, count: storage.count))
    }
}

extension SecureBytes.Storage {
    static func copy(_ source: UnsafeRawBufferPointer) -> SecureBytes.Storage {
        let storage = SecureBytes.Storage.make(count: source.count)
        if let base = source.baseAddress, source.count > 0 {
            storage.pointer.copyMemory(from: base, byteCount: source.count)
        }
        return storage
    }
}

extension SecureBytes: Equatable {
    /// Constant-time equality; lengths are compared first and are not secret.
    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in ConstantTime.equals(l, r) } }
    }
}

extension SecureBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecureBytes(redacted)" }
    public var debugDescription: String { "SecureBytes(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension SecureBytes {
    /// Overwrites `bytes` with zeros in a way the optimiser keeps (`sodium_memzero`); for
    /// temporary copies of secrets that had to live in an ordinary array.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 { sodium_memzero(base, buffer.count) }
        }
    }
}

/// The bytes as a read-only collection: code outside Crypto reads a secret through bounds-checked
/// subscripts and iteration, never a pointer. Copying it out (`Array(secret)`) is explicit, and the
/// copy is the caller's to wipe. Sequence algorithms and the crypto helpers that take any byte
/// sequence read the storage in place through `withContiguousStorageIfAvailable`.
extension SecureBytes: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.count }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < storage.count, "SecureBytes index out of range")
        return storage.pointer.load(fromByteOffset: position, as: UInt8.self)
    }

    public func withContiguousStorageIfAvailable<Result>(
        _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result? {
        try body(UnsafeBufferPointer(start: storage.pointer.assumingMemoryBound(to: UInt8.self), count: storage.count))
    }
}

/// What code outside Crypto asks of a secret as a whole: each reads the bytes here, in the one
/// place that lends secret memory, so a caller never holds a pointer into it.
extension SecureBytes {
    /// The bytes in base64url without padding: a new random id or key, written out once.
    public func base64URLEncoded() -> String {
        Base64URL.encode(self)
    }

    /// The bytes in lower-case hexadecimal: a new random id.
    public func hexEncoded() -> String {
        let digits = Array("0123456789abcdef".utf8)
        return withUnsafeBytes { bytes in
            String(decoding: bytes.flatMap { byte in [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]] }, as: UTF8.self)
        }
    }

    /// Whether every byte satisfies `predicate` (for example: no control character).
    public func allBytesSatisfy(_ predicate: (UInt8) -> Bool) -> Bool {
        withUnsafeBytes { $0.allSatisfy(predicate) }
    }

    /// Whether the bytes are valid UTF-8 with no NUL: a secret that can be a header value or an
    /// environment variable.
    public var isTextWithoutNUL: Bool {
        withUnsafeBytes { bytes in
            guard !bytes.contains(0) else { return false }
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue: continue
                case .emptyInput: return true
                case .error: return false
                }
            }
        }
    }

    /// A copy of the bytes as a `String`, outside protected memory: only for handing the secret to
    /// a child process or a header that takes a `String`. The copy is not wiped.
    public func unprotectedString() -> String {
        withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }
}
