/// A secret sealed by the ``Vault``: a 7-byte header (magic `AV`, format version, algorithm, key
/// version), then the 12-byte nonce, the ciphertext and the 16-byte tag.
///
/// The associated data is the header plus the record's ``RecordIdentity``, so a ciphertext copied
/// into another record, or its header edited to name another key version, does not open.
public struct SealedRecord: Hashable, Sendable, CustomStringConvertible {
    /// The stored form.
    public let bytes: [UInt8]

    static let magic: [UInt8] = [0x41, 0x56]  // "AV"
    static let formatVersion: UInt8 = 1
    static let aes256GCM: UInt8 = 1
    static let headerByteCount = 7
    static let overhead = headerByteCount + AESGCMKey.nonceByteCount + AESGCMKey.tagByteCount

    /// Wraps stored bytes. Throws ``VaultError`` (`malformed`) when they are too short or do not
    /// start with this format's header; the ciphertext is checked when the record is opened.
    public init(bytes: [UInt8]) throws(VaultError) {
        guard bytes.count >= Self.overhead, Array(bytes[0..<2]) == Self.magic else {
            throw VaultError(.malformed, "the stored record is not a sealed vault record")
        }
        guard bytes[2] == Self.formatVersion, bytes[3] == Self.aes256GCM else {
            throw VaultError(.malformed, "the stored record uses an unknown format or algorithm")
        }
        self.bytes = bytes
    }

    /// Bytes the vault has just produced in this layout.
    init(validBytes: [UInt8]) {
        bytes = validBytes
    }

    /// The key version that sealed the record.
    public var keyVersion: UInt32 {
        bytes[4..<7].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func header(keyVersion: UInt32) -> [UInt8] {
        // Three bytes of key version: 16 million rotations is enough, and the header stays small.
        magic + [
            formatVersion, aes256GCM, UInt8(truncatingIfNeeded: keyVersion >> 16),
            UInt8(truncatingIfNeeded: keyVersion >> 8), UInt8(truncatingIfNeeded: keyVersion),
        ]
    }

    public var description: String { "SealedRecord(key version \(keyVersion), \(bytes.count) bytes)" }
}

/// Whose secret a record holds. Part of the associated data: a record opens only as itself.
public struct RecordIdentity: Hashable, Sendable {
    /// The owner, such as `project:p1` or `user:alice`.
    public let owner: String
    /// The record's id.
    public let recordID: String
    /// The secret's name, such as `git-token` or `provider:openai`.
    public let name: String

    public init(owner: String, recordID: String, name: String) {
        self.owner = owner
        self.recordID = recordID
        self.name = name
    }

    /// The associated data: the header, then each field length-prefixed (4 bytes, big-endian), so
    /// no two identities encode alike. Not secret.
    func associatedData(header: some Collection<UInt8>) -> [UInt8] {
        var data = [UInt8]()
        data.reserveCapacity(header.count + 12 + owner.utf8.count + recordID.utf8.count + name.utf8.count)
        data += header
        func append(_ field: String) {
            let length = UInt32(truncatingIfNeeded: field.utf8.count)
            data += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            data += field.utf8
        }
        append(owner)
        append(recordID)
        append(name)
        return data
    }
}
