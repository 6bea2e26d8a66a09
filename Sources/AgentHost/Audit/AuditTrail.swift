public import Logging
public import SecurityCore
import Synchronization

/// AgentHost's audit log: the chain's key (32 random bytes sealed in the vault as
/// `agenthost/audit-key`, made on first use), the store, and a checkpoint every
/// ``checkpointInterval`` records, logged as well as stored so that cutting records off the end of
/// the log shows.
public final class AuditTrail: Sendable {
    public let store: any AuditLogStore
    let chain: AuditChain
    let clock: any TimeSource
    let logger: Logger
    /// Records between checkpoints.
    public let checkpointInterval: UInt64

    /// Opens the trail over `store`, with the key from the vault of `credentials`. Throws when the
    /// vault cannot be read: there is no unkeyed fallback.
    public static func open(
        store: any AuditLogStore, credentials: CredentialService, logger: Logger, checkpointInterval: UInt64 = 1000,
        clock: any TimeSource = SystemTimeSource()
    ) async throws -> AuditTrail {
        let key = try await credentials.systemKey(named: "audit-key")
        return AuditTrail(store: store, chain: AuditChain(key: key), clock: clock, logger: logger, checkpointInterval: checkpointInterval)
    }

    init(store: any AuditLogStore, chain: AuditChain, clock: any TimeSource, logger: Logger, checkpointInterval: UInt64) {
        self.store = store
        self.chain = chain
        self.clock = clock
        self.logger = logger
        self.checkpointInterval = max(1, checkpointInterval)
    }

    /// Appends `events` in order, as one transaction; the new head.
    @discardableResult
    public func append(_ events: [AuditEvent]) async throws -> AuditHead? {
        guard !events.isEmpty else { return nil }
        let chain = self.chain, interval = checkpointInterval, now = clock.now() * 1000
        let checkpointed = Mutex<AuditCheckpoint?>(nil)
        let head = try await store.appendAudit { head in
            let records = chain.records(events, after: head)
            guard let last = records.last else { return (records, nil) }
            // A checkpoint whenever the append crosses a multiple of the interval.
            let crossed = last.sequence / interval > (head?.sequence ?? 0) / interval
            let checkpoint = crossed ? chain.checkpoint(last.head, time: now) : nil
            checkpointed.withLock { $0 = checkpoint }
            return (records, checkpoint)
        }
        if let checkpoint = checkpointed.withLock({ $0 }) {
            logger.notice(
                "audit checkpoint",
                metadata: ["sequence": "\(checkpoint.head.sequence)", "mac": "\(checkpoint.head.macHex)"]
            )
        }
        return head
    }

    /// Appends one event.
    public func append(_ event: AuditEvent) async throws {
        try await append([event])
    }

    /// Checks the whole log against its chain and checkpoints.
    public func verify(batchSize: Int = 1000) async throws -> (problem: AuditChain.Problem?, head: AuditHead?, verified: Int) {
        let store = self.store
        return try await chain.verify(checkpoints: try await store.auditCheckpoints(), batchSize: batchSize) { after, limit in
            try await store.auditRecords(after: after, limit: limit, actor: nil, action: nil)
        }
    }

    /// The current time in the log's unit (Unix milliseconds).
    var nowMilliseconds: Int64 { clock.now() * 1000 }
}
