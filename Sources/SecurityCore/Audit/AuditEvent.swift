/// One thing that happened, as the audit log keeps it: who (from the verified credential only),
/// did what, to what, what was decided and by which rule, for which request and client.
///
/// Every field is free text to the log, and none can forge another record: the canonical encoding
/// (``AuditChain``) length-prefixes each field, so a newline or a control character in a field is
/// only data.
public struct AuditEvent: Hashable, Sendable {
    /// When, in Unix milliseconds (UTC).
    public var time: Int64
    /// The verified subject (`builder-7`, `user:alice`, `key:…`), `anonymous`, or the command line
    /// (`cli`). Never taken from request headers.
    public var actor: String
    /// What happened: `auth.failed`, `policy.denied`, `rate.limited`, `secret.released`,
    /// `token.minted`, `token.revoked`, `user.added`, `key.created`, `vault.rotated`, ….
    public var action: String
    /// What it happened to: a path, an agent, a key id.
    public var target: String
    /// `permit`, `deny`, or `ok` for something done.
    public var decision: String
    /// The deciding rule ids, or the refusal's code.
    public var rule: String
    /// The request's id, when it came over HTTP.
    public var requestID: String
    /// The client address, when it came over HTTP.
    public var client: String
    /// Anything else (`count` for aggregated refusals), sorted by key when encoded.
    public var details: [String: String]

    public init(
        time: Int64, actor: String, action: String, target: String = "", decision: String = "ok", rule: String = "",
        requestID: String = "", client: String = "", details: [String: String] = [:]
    ) {
        self.time = time
        self.actor = actor
        self.action = action
        self.target = target
        self.decision = decision
        self.rule = rule
        self.requestID = requestID
        self.client = client
        self.details = details
    }
}

/// A stored event: its place in the chain and the MAC that binds it to every record before it.
public struct AuditRecord: Hashable, Sendable {
    /// 1, 2, 3, … with no gaps.
    public let sequence: UInt64
    public let event: AuditEvent
    /// HMAC-SHA256 over the previous record's MAC and this record (``AuditChain``): 32 bytes.
    public let mac: [UInt8]

    public init(sequence: UInt64, event: AuditEvent, mac: [UInt8]) {
        self.sequence = sequence
        self.event = event
        self.mac = mac
    }

    /// Where the chain stands after this record.
    public var head: AuditHead { AuditHead(sequence: sequence, mac: mac) }
}

/// The last record's sequence number and MAC: what the next record chains from.
public struct AuditHead: Hashable, Sendable {
    public let sequence: UInt64
    public let mac: [UInt8]

    public init(sequence: UInt64, mac: [UInt8]) {
        self.sequence = sequence
        self.mac = mac
    }

    /// The MAC as lower-case hex, for logs and `audit verify`'s output. Not secret: it proves
    /// nothing without the audit key.
    public var macHex: String {
        Hex.encode(mac)
    }
}

/// A checkpoint: the head at some moment, MACed on its own. Checkpoints are stored apart from the
/// records and logged, so removing records from the end of the log is detectable.
public struct AuditCheckpoint: Hashable, Sendable {
    public let head: AuditHead
    /// When, in Unix milliseconds.
    public let time: Int64
    /// HMAC-SHA256 over the checkpoint label, the head and the time.
    public let mac: [UInt8]

    public init(head: AuditHead, time: Int64, mac: [UInt8]) {
        self.head = head
        self.time = time
        self.mac = mac
    }
}

/// Where the audit chain is kept. SecurityStore implements it over SQLite and PostgreSQL.
public protocol AuditLogStore: Sendable {
    /// In one transaction that holds the log's lock (so several servers keep one chain): reads
    /// the head, asks `make` for the records (and maybe a checkpoint) that follow it, and writes
    /// them. Returns the new head.
    func appendAudit(_ make: @Sendable (AuditHead?) -> (records: [AuditRecord], checkpoint: AuditCheckpoint?)) async throws -> AuditHead?
    /// Up to `limit` records with sequence numbers above `sequence`, in order; only those of
    /// `actor` and `action` when given.
    func auditRecords(after sequence: UInt64, limit: Int, actor: String?, action: String?) async throws -> [AuditRecord]
    /// Every checkpoint, oldest first.
    func auditCheckpoints() async throws -> [AuditCheckpoint]
}
