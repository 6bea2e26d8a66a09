internal import CSodium
import Dispatch
import Synchronization

/// Argon2id password hashing (libsodium `crypto_pwhash_str*`), kept off Swift's cooperative pool.
///
/// Each hash or verify deliberately costs tens of milliseconds and megabytes of memory, so it runs
/// on a Dispatch worker rather than a cooperative thread, and at most ``maximumConcurrent`` run at
/// once; further calls wait their turn without blocking a thread. Hashes are the standard
/// `$argon2id$v=19$m=…,t=…,p=…$salt$hash` strings.
///
/// ```swift
/// let hasher = PasswordHasher()
/// let stored = try await hasher.hash(password: "correct horse")
/// try await hasher.verify(password: "correct horse", against: stored) // true
/// ```
public final class PasswordHasher: Sendable {
    /// Cost parameters for Argon2id.
    public struct Parameters: Hashable, Sendable {
        /// Passes over memory (libsodium's `opslimit`).
        public var operations: Int
        /// Memory in bytes (libsodium's `memlimit`).
        public var memoryBytes: Int

        /// Creates parameters; ``PasswordHasher/init(parameters:maximumConcurrent:)`` checks them.
        public init(operations: Int, memoryBytes: Int) {
            self.operations = operations
            self.memoryBytes = memoryBytes
        }

        /// libsodium's interactive level: 2 passes over 64 MiB.
        public static let interactive = Parameters(operations: 2, memoryBytes: 64 << 20)
        /// libsodium's moderate level: 3 passes over 256 MiB.
        public static let moderate = Parameters(operations: 3, memoryBytes: 256 << 20)
    }

    /// The longest password accepted, in bytes.
    public static let maximumPasswordByteCount = 4096

    /// The parameters new hashes use.
    public let parameters: Parameters
    /// How many hash or verify operations may run at the same time.
    public let maximumConcurrent: Int
    private let gate: AsyncSemaphore

    /// Creates a hasher. Throws ``CryptoError/Code/invalidParameters`` when the parameters are
    /// below Argon2id's minimum or `maximumConcurrent` is not positive.
    public init(parameters: Parameters = .interactive, maximumConcurrent: Int = 2) throws {
        Sodium.ensureInitialized()
        guard parameters.operations >= Int(crypto_pwhash_opslimit_min()),
            parameters.operations <= Int(clamping: crypto_pwhash_opslimit_max()),
            parameters.memoryBytes >= Int(crypto_pwhash_memlimit_min()),
            parameters.memoryBytes <= Int(clamping: crypto_pwhash_memlimit_max()),
            maximumConcurrent > 0
        else {
            throw CryptoError(.invalidParameters, "Argon2id parameters out of range")
        }
        self.parameters = parameters
        self.maximumConcurrent = maximumConcurrent
        self.gate = AsyncSemaphore(permits: maximumConcurrent)
    }

    /// Hashes `password` with a fresh random salt.
    public func hash(password: String) async throws -> String {
        let parameters = self.parameters
        let password = SecureBytes(copying: password.utf8)
        return try await run {
            try Self.checkLength(password)
            let length = Int(crypto_pwhash_strbytes())
            var output = [CChar](repeating: 0, count: length)
            let status = password.withUnsafeBytes { bytes in
                crypto_pwhash_str_alg(
                    &output, UnsafeRawPointer(readable(bytes)).assumingMemoryBound(to: CChar.self), UInt64(bytes.count),
                    UInt64(parameters.operations), parameters.memoryBytes, crypto_pwhash_alg_argon2id13()
                )
            }
            guard status == 0 else {
                throw CryptoError(.backendFailure, "Argon2id hashing failed (out of memory?)")
            }
            return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Whether `password` matches `storedHash`. A hash that is not an Argon2id string libsodium can
    /// read throws ``CryptoError/Code/invalidPasswordHash``; a wrong password returns `false`.
    public func verify(password: String, against storedHash: String) async throws -> Bool {
        guard storedHash.hasPrefix("$argon2id$"), storedHash.utf8.count < Int(crypto_pwhash_strbytes()) else {
            throw CryptoError(.invalidPasswordHash, "not an Argon2id hash string")
        }
        let password = SecureBytes(copying: password.utf8)
        return try await run {
            try Self.checkLength(password)
            return password.withUnsafeBytes { bytes in
                crypto_pwhash_str_verify(
                    storedHash, UnsafeRawPointer(readable(bytes)).assumingMemoryBound(to: CChar.self), UInt64(bytes.count)
                ) == 0
            }
        }
    }

    /// Whether `storedHash` was made with other parameters than this hasher's and should be
    /// replaced the next time the password is known. Cheap; runs inline.
    public func needsRehash(_ storedHash: String) throws -> Bool {
        guard storedHash.hasPrefix("$argon2id$") else { return true }
        switch crypto_pwhash_str_needs_rehash(
            storedHash, UInt64(parameters.operations), parameters.memoryBytes
        ) {
        case 0: return false
        case 1: return true
        default: throw CryptoError(.invalidPasswordHash, "not an Argon2id hash string")
        }
    }

    private static func checkLength(_ password: SecureBytes) throws {
        guard password.count <= maximumPasswordByteCount else {
            throw CryptoError(.inputTooLarge, "passwords are limited to \(maximumPasswordByteCount) bytes")
        }
    }

    /// Runs `work` on a Dispatch worker once the gate lets it through.
    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await gate.withPermit {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(with: Result { try work() })
                }
            }
        }
    }
}
