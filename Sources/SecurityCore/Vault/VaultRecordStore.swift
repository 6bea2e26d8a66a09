/// One stored vault record: which secret it is and its sealed bytes. The record id is part of the
/// sealing identity, so a row's bytes open only as that row.
public struct VaultRecordRow: Hashable, Sendable {
    /// A random id, kept with the bytes it sealed.
    public let id: String
    /// The owner, such as `project:p1` or `user:alice`.
    public let owner: String
    /// The secret's name, such as `git-token`.
    public let name: String
    /// The sealed bytes.
    public let sealed: SealedRecord
    /// When it was last written, in Unix seconds.
    public let updatedAt: Int64

    public init(id: String, owner: String, name: String, sealed: SealedRecord, updatedAt: Int64) {
        self.id = id
        self.owner = owner
        self.name = name
        self.sealed = sealed
        self.updatedAt = updatedAt
    }

    /// The identity the bytes were sealed for.
    public var identity: RecordIdentity { RecordIdentity(owner: owner, recordID: id, name: name) }
}

/// Where sealed vault records live. SecurityStore implements it over SQLite and PostgreSQL; the
/// store only ever sees sealed bytes.
public protocol VaultRecordStore: Sendable {
    /// Writes `row`, replacing any record with the same owner and name (id and bytes together).
    func put(_ row: VaultRecordRow) async throws
    /// Writes `row` only if `owner` has no record called `name`; whether it did. Servers starting
    /// together on one database agree on a record that must exist exactly once this way.
    func insert(_ row: VaultRecordRow) async throws -> Bool
    /// The record `name` of `owner`, if any.
    func record(owner: String, name: String) async throws -> VaultRecordRow?
    /// Deletes the record; whether there was one.
    func delete(owner: String, name: String) async throws -> Bool
    /// Every record of `owner` (every record when `nil`), ordered by owner and name.
    func records(owner: String?) async throws -> [VaultRecordRow]
    /// Up to `limit` records with ids after `id`, in id order: rotation and verification walk the
    /// store in batches. A row whose bytes are not a sealed record is listed as
    /// ``VaultRecordScan/malformed(id:owner:name:)``, so one bad row does not stop the walk.
    func records(after id: String?, limit: Int) async throws -> [VaultRecordScan]
    /// Replaces the bytes of record `id` only if they are still `expected`; whether it did. A
    /// rotation that races a new `put` leaves the new secret alone.
    func replace(id: String, expected: SealedRecord, with sealed: SealedRecord, now: Int64) async throws -> Bool
    /// Applies every replacement in one transaction, each only if its record still holds the
    /// expected bytes; how many were applied. A crash leaves all of them or none.
    func replace(_ batch: [VaultReplacement], now: Int64) async throws -> Int
    /// How many records are sealed under each key version.
    func recordCountsByKeyVersion() async throws -> [UInt32: Int]
    /// Encryptions so far under each key version, across every server sharing the store.
    func encryptionCounts() async throws -> [UInt32: UInt64]
    /// Adds `count` encryptions under `version`.
    func recordEncryptions(version: UInt32, count: UInt64) async throws
}

/// One row of a walk through the store.
public enum VaultRecordScan: Hashable, Sendable {
    case record(VaultRecordRow)
    /// A row whose stored bytes are not a sealed record (truncated or overwritten).
    case malformed(id: String, owner: String, name: String)

    /// The row's id.
    public var id: String {
        switch self {
        case .record(let row): row.id
        case .malformed(let id, _, _): id
        }
    }
}

/// One step of a rotation: record `id` goes from `expected` to `sealed`.
public struct VaultReplacement: Hashable, Sendable {
    public let id: String
    public let expected: SealedRecord
    public let sealed: SealedRecord

    public init(id: String, expected: SealedRecord, sealed: SealedRecord) {
        self.id = id
        self.expected = expected
        self.sealed = sealed
    }
}
