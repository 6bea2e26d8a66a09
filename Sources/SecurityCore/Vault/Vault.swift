import Synchronization

/// Seals secrets at rest and lends them out only at the moment of use.
///
/// - Each record is AES-256-GCM under the keyring's primary version, with the record's header and
///   ``RecordIdentity`` as associated data: a ciphertext moved to another record is refused as
///   ``VaultError/Code/recordMismatch`` ("set it again"), never opened as the other secret.
/// - Plaintext is lent to a closure and wiped when the closure returns; no API returns it.
/// - Encryptions are counted per key version. Nonces are 96 bits, so past
///   ``rotationAdvisedAfter`` (2^30) a rotation is advised, and at ``rotationRequiredAt`` (2^32)
///   sealing under that version is refused. Persist ``encryptionCounts`` and pass them back in, so
///   the count survives restarts.
///
/// ```swift
/// let vault = Vault(keyring: keyring)
/// let identity = RecordIdentity(owner: "project:p1", recordID: "r-1", name: "git-token")
/// let record = try vault.seal(SecureBytes(copying: Array(token.utf8)), for: identity)
/// try vault.withSecret(in: record, for: identity) { bytes in try push(using: bytes) }
/// ```
public final class Vault: Sendable {
    /// The keys.
    public let keyring: VaultKeyring
    private let counts: Mutex<[UInt32: UInt64]>

    /// Encryptions under one key version after which a rotation is advised.
    public static let rotationAdvisedAfter: UInt64 = 1 << 30
    /// Encryptions under one key version after which sealing with it is refused.
    public static let rotationRequiredAt: UInt64 = 1 << 32
    /// The largest secret sealed: 64 KiB.
    public static let maximumSecretByteCount = 64 * 1024

    /// A vault over `keyring`, with the encryption counts stored from earlier runs.
    public init(keyring: VaultKeyring, encryptionCounts: [UInt32: UInt64] = [:]) {
        self.keyring = keyring
        self.counts = Mutex(encryptionCounts)
    }

    /// Encryptions so far, by key version, to persist.
    public var encryptionCounts: [UInt32: UInt64] { counts.withLock { $0 } }

    /// Whether the primary version has sealed so much that a rotation is due.
    public var rotationAdvised: Bool {
        counts.withLock { $0[keyring.primaryVersion, default: 0] } >= Self.rotationAdvisedAfter
    }

    /// Seals `secret` for `identity` under the primary key version.
    public func seal(_ secret: SecureBytes, for identity: RecordIdentity) throws(VaultError) -> SealedRecord {
        guard secret.count <= Self.maximumSecretByteCount else {
            throw VaultError(.secretTooLarge, "a vault secret may be at most \(Self.maximumSecretByteCount) bytes")
        }
        let version = keyring.primaryVersion
        let allowed = counts.withLock { counts -> Bool in
            guard counts[version, default: 0] < Self.rotationRequiredAt else { return false }
            counts[version, default: 0] += 1
            return true
        }
        guard allowed else {
            throw VaultError(
                .rotationRequired,
                "vault key version \(version) has sealed 2^32 records; rotate the vault key (agenthost vault rotate) before sealing more"
            )
        }
        let header = SealedRecord.header(keyVersion: version)
        do {
            let bytes = try keyring.keys[version]!.seal(secret, aad: identity.associatedData(header: header), prefix: header)
            return SealedRecord(validBytes: bytes)
        } catch {
            throw VaultError(.backendFailure, "sealing failed in the crypto library")
        }
    }

    /// Opens `record` as `identity` and lends the plaintext to `body`; the plaintext is wiped when
    /// `body` returns or throws. Errors from `body` pass through unchanged.
    public func withSecret<Result>(
        in record: SealedRecord, for identity: RecordIdentity, _ body: (SecureBytes) throws -> Result
    ) throws -> Result {
        try body(open(record, for: identity))
    }

    /// Whether `record` opens as `identity`, without lending the plaintext: for `vault verify`.
    public func check(_ record: SealedRecord, for identity: RecordIdentity) throws(VaultError) {
        _ = try open(record, for: identity)
    }

    /// Whether `record` is sealed under a version other than the primary.
    public func needsResealing(_ record: SealedRecord) -> Bool {
        record.keyVersion != keyring.primaryVersion
    }

    /// `record` sealed again under the primary version (for rotation); the plaintext never leaves.
    public func reseal(_ record: SealedRecord, for identity: RecordIdentity) throws(VaultError) -> SealedRecord {
        try seal(open(record, for: identity), for: identity)
    }

    private func open(_ record: SealedRecord, for identity: RecordIdentity) throws(VaultError) -> SecureBytes {
        let version = record.keyVersion
        guard version >= keyring.minimumDecryptionVersion else {
            throw VaultError(
                .keyVersionRetired,
                "the record was sealed with retired vault key version \(version); set the secret again"
            )
        }
        guard let key = keyring.keys[version] else {
            throw VaultError(
                .unknownKeyVersion, "the record was sealed with vault key version \(version), which this keyring does not hold")
        }
        do {
            let aad = identity.associatedData(header: record.bytes[..<SealedRecord.headerByteCount])
            return try key.open(record.bytes, from: SealedRecord.headerByteCount, aad: aad)
        } catch {
            throw VaultError(
                .recordMismatch,
                "the record does not open as this secret (altered, or copied from another record); set the secret again"
            )
        }
    }
}

/// Why the vault refused. The reason never contains secret bytes.
public struct VaultError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case noKey = "no_key"
            case invalidKeyring = "invalid_keyring"
            case malformed
            case recordMismatch = "record_mismatch"
            case unknownKeyVersion = "unknown_key_version"
            case keyVersionRetired = "key_version_retired"
            case rotationRequired = "rotation_required"
            case secretTooLarge = "secret_too_large"
            case backendFailure = "backend_failure"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// No key, or the primary version is missing: the vault does not open.
        public static let noKey = Code(.noKey)
        /// The keyring is inconsistent (duplicate or missing versions).
        public static let invalidKeyring = Code(.invalidKeyring)
        /// The stored bytes are not a sealed record.
        public static let malformed = Code(.malformed)
        /// The record does not open as the identity asked for: altered, or copied from another record.
        public static let recordMismatch = Code(.recordMismatch)
        /// The record names a key version the keyring does not have.
        public static let unknownKeyVersion = Code(.unknownKeyVersion)
        /// The record's key version is older than the oldest that still opens.
        public static let keyVersionRetired = Code(.keyVersionRetired)
        /// The primary key version has sealed as many records as it safely may: rotate.
        public static let rotationRequired = Code(.rotationRequired)
        /// A secret larger than a record holds.
        public static let secretTooLarge = Code(.secretTooLarge)
        /// The crypto library failed unexpectedly.
        public static let backendFailure = Code(.backendFailure)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
