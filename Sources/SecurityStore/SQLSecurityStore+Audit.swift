import Foundation
public import SecurityCore
import SQLKit

extension SQLSecurityStore: AuditLogStore {
    /// Held for the length of an append on PostgreSQL, so servers sharing the database take turns
    /// and keep one chain. SQLite's `BEGIN IMMEDIATE` does the same for processes sharing a file.
    static let auditLock: Int64 = 0x4147_4854_4155  // "AGHTAU"

    public func appendAudit(
        _ make: @Sendable (AuditHead?) -> (records: [AuditRecord], checkpoint: AuditCheckpoint?)
    ) async throws -> AuditHead? {
        try await run {
            try await inTransaction {
                if dialect == .postgres {
                    try await database.raw("SELECT pg_advisory_xact_lock(\(bind: Self.auditLock))").run()
                }
                var head: AuditHead?
                if let row = try await database.raw("SELECT sequence, mac FROM audit_log ORDER BY sequence DESC LIMIT 1").first() {
                    head = AuditHead(
                        sequence: UInt64(try row.decode(column: "sequence", as: Int64.self)),
                        mac: [UInt8](try row.decode(column: "mac", as: Data.self))
                    )
                }
                let (records, checkpoint) = make(head)
                for record in records {
                    let event = record.event
                    let details = JSONValue.object(event.details.mapValues { .string($0) }).json
                    try await database.raw(
                        """
                        INSERT INTO audit_log (sequence, time, actor, action, target, decision, rule, request_id, client, details, mac)
                        VALUES (\(bind: Int64(record.sequence)), \(bind: event.time), \(bind: event.actor), \(bind: event.action),
                                \(bind: event.target), \(bind: event.decision), \(bind: event.rule), \(bind: event.requestID),
                                \(bind: event.client), \(bind: details), \(bind: Data(record.mac)))
                        """
                    ).run()
                    head = record.head
                }
                if let checkpoint {
                    try await database.raw(
                        """
                        INSERT INTO audit_checkpoints (sequence, head_mac, time, mac)
                        VALUES (\(bind: Int64(checkpoint.head.sequence)), \(bind: Data(checkpoint.head.mac)), \(bind: checkpoint.time),
                                \(bind: Data(checkpoint.mac)))
                        ON CONFLICT (sequence) DO NOTHING
                        """
                    ).run()
                }
                return head
            }
        }
    }

    public func auditRecords(after sequence: UInt64, limit: Int, actor: String?, action: String?) async throws -> [AuditRecord] {
        try await run {
            var query = SQLQueryString(
                """
                SELECT sequence, time, actor, action, target, decision, rule, request_id, client, details, mac FROM audit_log
                WHERE sequence > \(bind: Int64(clamping: sequence))
                """)
            if let actor {
                query.appendLiteral(" AND actor = ")
                query.appendInterpolation(bind: actor)
            }
            if let action {
                query.appendLiteral(" AND action = ")
                query.appendInterpolation(bind: action)
            }
            query.appendLiteral(" ORDER BY sequence LIMIT ")
            query.appendInterpolation(bind: max(1, limit))
            return try await database.raw(query).all().map(Self.auditRecord)
        }
    }

    public func auditCheckpoints() async throws -> [AuditCheckpoint] {
        try await run {
            try await database.raw("SELECT sequence, head_mac, time, mac FROM audit_checkpoints ORDER BY sequence").all().map { row in
                AuditCheckpoint(
                    head: AuditHead(
                        sequence: UInt64(try row.decode(column: "sequence", as: Int64.self)),
                        mac: [UInt8](try row.decode(column: "head_mac", as: Data.self))
                    ),
                    time: try row.decode(column: "time", as: Int64.self), mac: [UInt8](try row.decode(column: "mac", as: Data.self))
                )
            }
        }
    }

    static func auditRecord(_ row: any SQLRow) throws -> AuditRecord {
        var details = [String: String]()
        let text = try row.decode(column: "details", as: String.self)
        // A details column that is not a flat object of strings is kept as one field, so
        // verification reports the record instead of the walk stopping.
        if case .object(let members)? = try? JSONValue.parse(Array(text.utf8)) {
            for (name, value) in members { details[name] = value.stringValue ?? value.json }
        } else {
            details["(unreadable)"] = text
        }
        let event = AuditEvent(
            time: try row.decode(column: "time", as: Int64.self), actor: try row.decode(column: "actor", as: String.self),
            action: try row.decode(column: "action", as: String.self), target: try row.decode(column: "target", as: String.self),
            decision: try row.decode(column: "decision", as: String.self), rule: try row.decode(column: "rule", as: String.self),
            requestID: try row.decode(column: "request_id", as: String.self), client: try row.decode(column: "client", as: String.self),
            details: details
        )
        return AuditRecord(
            sequence: UInt64(try row.decode(column: "sequence", as: Int64.self)), event: event,
            mac: [UInt8](try row.decode(column: "mac", as: Data.self))
        )
    }
}
