/// A stored API key, device or setup token: its public id, what it may do, and a digest of its
/// secret (HMAC-SHA256 under the server's pepper), never the secret itself.
public struct AccessKeyRecord: Hashable, Sendable, CustomStringConvertible {
    /// What the key is.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// An API key (`POST /api/keys`).
        case apiKey = "api-key"
        /// A registered device (`POST /api/devices`), with a trust level.
        case device
        /// The one-time onboarding token printed at first start; it authenticates nothing else.
        case setup
    }

    /// The public id (`ahk_…`, `ahd_…`, `ahs_…`).
    public let id: String
    public let kind: Kind
    /// A label chosen by whoever created it.
    public let name: String
    /// The role it acts with.
    public let role: String
    /// A device's trust level; `nil` for the other kinds.
    public let trust: DeviceTrust?
    /// HMAC-SHA256 of the secret under the pepper: 32 bytes.
    public let digest: [UInt8]
    /// Who created it (a principal's subject, or `cli`, `setup`).
    public let createdBy: String
    /// When, in Unix seconds.
    public let createdAt: Int64

    public init(
        id: String, kind: Kind, name: String, role: String, trust: DeviceTrust?, digest: [UInt8], createdBy: String, createdAt: Int64
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.role = role
        self.trust = trust
        self.digest = digest
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    public var description: String { "AccessKeyRecord(\(id), \(kind.rawValue), role \(role))" }
}

/// Where API keys, devices and the setup token live.
public protocol AccessKeyStore: Sendable {
    /// Adds `record` (ids are random, so a clash is an error).
    func putAccessKey(_ record: AccessKeyRecord) async throws
    /// Every key of every kind.
    func accessKeys() async throws -> [AccessKeyRecord]
    /// Deletes key `id`; whether there was one. Two callers deleting the same id at once: exactly
    /// one gets `true`, which is what makes the setup token single-use.
    func deleteAccessKey(id: String) async throws -> Bool
}
