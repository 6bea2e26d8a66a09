/// The tamper-evident chain over audit records.
///
/// Record n's MAC is HMAC-SHA256(audit key, field(label) ‖ n ‖ MAC(n−1) ‖ canonical(event)), with
/// MAC(0) = 32 zero bytes, and the canonical encoding length-prefixes every field (4-byte
/// big-endian lengths; details sorted by key). Changing, removing or inserting a record breaks the
/// chain at that point; ``Verifier`` names the first record where it breaks. Removing records from
/// the end is caught by checkpoints kept (and logged) apart from the records.
///
/// ```swift
/// let chain = AuditChain(key: auditKey)
/// let first = chain.record(event, after: nil)
/// let (problem, head, count) = try await chain.verify(checkpoints: try await store.auditCheckpoints()) { after, limit in
///     try await store.auditRecords(after: after, limit: limit, actor: nil, action: nil)
/// }
/// ```
public struct AuditChain: Sendable {
    static let label = Array("agenthost/audit-record/v1".utf8)
    static let checkpointLabel = Array("agenthost/audit-checkpoint/v1".utf8)
    /// The MAC record 1 chains from.
    public static let genesis = [UInt8](repeating: 0, count: HMACSHA256Key.tagByteCount)

    private let key: HMACSHA256Key

    public init(key: HMACSHA256Key) {
        self.key = key
    }

    /// The record that follows `head` (or starts the chain).
    public func record(_ event: AuditEvent, after head: AuditHead?) -> AuditRecord {
        let sequence = (head?.sequence ?? 0) + 1
        return AuditRecord(
            sequence: sequence, event: event, mac: mac(sequence: sequence, previous: head?.mac ?? Self.genesis, event: event))
    }

    /// The records that follow `head`, in order.
    public func records(_ events: [AuditEvent], after head: AuditHead?) -> [AuditRecord] {
        var current = head
        return events.map { event in
            let next = record(event, after: current)
            current = next.head
            return next
        }
    }

    /// A checkpoint of `head` at `time`.
    public func checkpoint(_ head: AuditHead, time: Int64) -> AuditCheckpoint {
        AuditCheckpoint(head: head, time: time, mac: checkpointMAC(head, time: time))
    }

    /// Whether `checkpoint` was made with this chain's key.
    public func isAuthentic(_ checkpoint: AuditCheckpoint) -> Bool {
        ConstantTime.equals(checkpointMAC(checkpoint.head, time: checkpoint.time), checkpoint.mac)
    }

    func mac(sequence: UInt64, previous: [UInt8], event: AuditEvent) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(160)
        Self.append(Self.label, to: &bytes)
        Self.append(sequence, to: &bytes)
        Self.append(previous, to: &bytes)
        Self.append(UInt64(bitPattern: event.time), to: &bytes)
        for field in [event.actor, event.action, event.target, event.decision, event.rule, event.requestID, event.client] {
            Self.append(Array(field.utf8), to: &bytes)
        }
        Self.append(UInt64(event.details.count), to: &bytes)
        for (name, value) in event.details.sorted(by: { $0.key < $1.key }) {
            Self.append(Array(name.utf8), to: &bytes)
            Self.append(Array(value.utf8), to: &bytes)
        }
        return key.authenticationCode(for: bytes)
    }

    private func checkpointMAC(_ head: AuditHead, time: Int64) -> [UInt8] {
        var bytes = [UInt8]()
        Self.append(Self.checkpointLabel, to: &bytes)
        Self.append(head.sequence, to: &bytes)
        Self.append(head.mac, to: &bytes)
        Self.append(UInt64(bitPattern: time), to: &bytes)
        return key.authenticationCode(for: bytes)
    }

    private static func append(_ field: [UInt8], to bytes: inout [UInt8]) {
        let count = UInt32(truncatingIfNeeded: field.count)
        bytes.append(contentsOf: [
            UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 8),
            UInt8(truncatingIfNeeded: count),
        ])
        bytes.append(contentsOf: field)
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    // MARK: Verification

    /// What is wrong with the log, at the first place it is wrong.
    public enum Problem: Hashable, Sendable, CustomStringConvertible {
        /// Record `sequence` does not verify and the next one chains from its stored MAC: its
        /// content was changed.
        case altered(sequence: UInt64)
        /// Records `from` to `through` are missing.
        case removed(from: UInt64, through: UInt64)
        /// Record `sequence` does not belong: the record after it chains from the one before it.
        case inserted(sequence: UInt64)
        /// Record `sequence` does not verify, and what happened cannot be told apart (the last
        /// record altered or forged, or records renumbered).
        case broken(sequence: UInt64)
        /// A checkpoint names a record that is not there or differs: the log was cut after
        /// `head`, or rewritten.
        case truncated(checkpoint: UInt64, head: UInt64)
        /// A checkpoint was not made with the audit key.
        case forgedCheckpoint(sequence: UInt64)

        public var description: String {
            switch self {
            case .altered(let sequence): "record \(sequence) was altered"
            case .removed(let from, let through): from == through ? "record \(from) was removed" : "records \(from)-\(through) were removed"
            case .inserted(let sequence): "record \(sequence) was inserted"
            case .broken(let sequence): "record \(sequence) does not verify (altered, forged, or records renumbered)"
            case .truncated(let checkpoint, let head):
                "the log ends at record \(head) but a checkpoint vouches for record \(checkpoint): records were removed or rewritten"
            case .forgedCheckpoint(let sequence): "the checkpoint at record \(sequence) was not made with the audit key"
            }
        }
    }

    /// Checks records in order, one at a time, so a log of any length is verified in constant
    /// memory. Give each record with the one after it (or `nil` for the last), so a failure can
    /// be told apart: altered, inserted or removed.
    public struct Verifier: Sendable {
        let chain: AuditChain
        let checkpoints: [AuditCheckpoint]
        /// The MACs of verified records that checkpoints name.
        private var checkpointed: [UInt64: [UInt8]] = [:]
        private let wanted: Set<UInt64>
        /// The last record that verified.
        public private(set) var head: AuditHead?
        /// How many records verified.
        public private(set) var verified = 0

        init(chain: AuditChain, checkpoints: [AuditCheckpoint]) {
            self.chain = chain
            self.checkpoints = checkpoints
            self.wanted = Set(checkpoints.map(\.head.sequence))
        }

        /// `nil` when `record` verifies and follows the head; otherwise the problem, and the
        /// verifier stays where it was.
        public mutating func check(_ record: AuditRecord, next: AuditRecord?) -> Problem? {
            let expected = (head?.sequence ?? 0) + 1
            let previous = head?.mac ?? AuditChain.genesis
            if record.sequence > expected { return .removed(from: expected, through: record.sequence - 1) }
            if record.sequence < expected { return .inserted(sequence: record.sequence) }
            if ConstantTime.equals(chain.mac(sequence: record.sequence, previous: previous, event: record.event), record.mac) {
                head = record.head
                verified += 1
                if wanted.contains(record.sequence) { checkpointed[record.sequence] = record.mac }
                return nil
            }
            guard let next else { return .broken(sequence: record.sequence) }
            if ConstantTime.equals(chain.mac(sequence: next.sequence, previous: record.mac, event: next.event), next.mac) {
                return .altered(sequence: record.sequence)
            }
            // An insertion that renumbered the records after it: the next record verifies under
            // this one's number, chained from the record before.
            if ConstantTime.equals(chain.mac(sequence: record.sequence, previous: previous, event: next.event), next.mac) {
                return .inserted(sequence: record.sequence)
            }
            return .broken(sequence: record.sequence)
        }

        /// After the last record: every checkpoint is authentic and names a record that verified
        /// with the same MAC.
        public func finish() -> Problem? {
            for checkpoint in checkpoints {
                guard chain.isAuthentic(checkpoint) else { return .forgedCheckpoint(sequence: checkpoint.head.sequence) }
                guard let mac = checkpointed[checkpoint.head.sequence], ConstantTime.equals(mac, checkpoint.head.mac) else {
                    return .truncated(checkpoint: checkpoint.head.sequence, head: head?.sequence ?? 0)
                }
            }
            return nil
        }
    }

    /// A verifier starting at the beginning of the chain, holding the log to `checkpoints`.
    public func verifier(checkpoints: [AuditCheckpoint] = []) -> Verifier {
        Verifier(chain: self, checkpoints: checkpoints)
    }

    /// Verifies a whole log: the first problem, or `nil` with the head when it is intact. Reads
    /// `records` in batches from `after:limit:` style paging through `page`.
    public func verify(
        checkpoints: [AuditCheckpoint], batchSize: Int = 1000, page: (UInt64, Int) async throws -> [AuditRecord]
    ) async throws -> (problem: Problem?, head: AuditHead?, verified: Int) {
        var verifier = verifier(checkpoints: checkpoints)
        var batch = try await page(0, batchSize)
        while !batch.isEmpty {
            let following = batch.count == batchSize ? try await page(batch[batch.count - 1].sequence, batchSize) : []
            for index in batch.indices {
                let next = index + 1 < batch.count ? batch[index + 1] : following.first
                if let problem = verifier.check(batch[index], next: next) { return (problem, verifier.head, verifier.verified) }
            }
            batch = following
        }
        return (verifier.finish(), verifier.head, verifier.verified)
    }
}
