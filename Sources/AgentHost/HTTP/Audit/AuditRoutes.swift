import Foundation
import Hummingbird
import SecurityCore
import SecurityStore

/// `GET /api/audit?after=SEQ&limit=N&actor=A&action=X`: audit records in order, at most 500 a page,
/// with `next` to ask for the following page. The policy decides who reads it (admin and owner in
/// the default policy).
struct AuditRoutes: Sendable {
    let components: AgentHost.Components

    func add(to router: Router<AgentRequestContext>) {
        router.get("/api/audit") { request, context in try await list(request, context: context) }
    }

    private func list(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let audit = components.audit else {
            throw HTTPRefusal(503, .auditUnavailable, "This server was started without a store, so it keeps no audit log.")
        }
        let query = request.uri.queryParameters
        guard let (after, limit) = Paging.parse(query) else { throw Paging.refusal("a record number") }
        let actor = query["actor"].map(String.init), action = query["action"].map(String.init)
        for value in [actor, action] where (value?.utf8.count ?? 0) > 256 {
            throw HTTPRefusal(400, .invalidRequest, "actor and action are at most 256 bytes.")
        }
        do {
            // Events still queued are written first, so a reader sees what has happened.
            try await audit.flush()
            let records = try await audit.trail.store.auditRecords(after: UInt64(after), limit: limit, actor: actor, action: action)
            return JSONBody.response(
                .object([
                    "records": .array(records.map(Self.json)),
                    "next": records.count == limit ? .integer(Int64(clamping: records[records.count - 1].sequence)) : .null,
                ]))
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }

    static func json(_ record: AuditRecord) -> JSONValue {
        let event = record.event
        return .object([
            "sequence": .integer(Int64(clamping: record.sequence)),
            "time": .string(UTCTimestamp.string(milliseconds: event.time)),
            "actor": .string(event.actor), "action": .string(event.action), "target": .string(event.target),
            "decision": .string(event.decision), "rule": .string(event.rule), "request_id": .string(event.requestID),
            "client": .string(event.client), "details": .object(event.details.mapValues { .string($0) }),
        ])
    }
}
