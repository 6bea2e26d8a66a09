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
    /// The record `name` of `owner`, if any.
    func record(owner: String, name: String) async throws -> VaultRecordRow?
    /// Deletes the record; whether there was one.
    func delete(owner: String, name: String) async throws -> Bool
    /// Every record of `owner` (every record when `nil`), ordered by owner and name.
    func records(owner: String?) async throws -> [VaultRecordRow]
    /// Up to `limit` records with ids after `id`, in id order: rotation walks the store in batches.
    func records(after id: String?, limit: Int) async throws -> [VaultRecordRow]
    /// Replaces the bytes of record `id` only if they are still `expected`; whether it did. A
    /// rotation that races a new `put` leaves the new secret alone.
    func replace(id: String, expected: SealedRecord, with sealed: SealedRecord, now: Int64) async throws -> Bool
}
