import Foundation
public import SecurityCore
import SQLKit

extension SQLSecurityStore: WebhookDeliveryStore {
    public func recordDelivery(
        provider: String, id: String, event: String, body: String, at now: Int64, expiresAt: Int64
    ) async throws -> Bool {
        try await run {
            // An id whose time is up may be used again.
            try await database.raw(
                """
                DELETE FROM webhook_deliveries WHERE provider = \(bind: provider) AND delivery_id = \(bind: id) AND expires_at < \(bind: now)
                """
            ).run()
            return try await !database.raw(
                """
                INSERT INTO webhook_deliveries (provider, delivery_id, event, body, received_at, expires_at)
                VALUES (\(bind: provider), \(bind: id), \(bind: event), \(bind: body), \(bind: now), \(bind: expiresAt))
                ON CONFLICT (provider, delivery_id) DO NOTHING RETURNING sequence
                """
            ).all().isEmpty
        }
    }

    public func deliveries(after sequence: Int64, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await run {
            try await database.raw(
                """
                SELECT sequence, provider, delivery_id, event, body, received_at FROM webhook_deliveries
                WHERE sequence > \(bind: sequence) ORDER BY sequence LIMIT \(bind: max(1, limit))
                """
            ).all().map { row in
                WebhookDeliveryRecord(
                    sequence: try row.decode(column: "sequence", as: Int64.self),
                    provider: try row.decode(column: "provider", as: String.self),
                    id: try row.decode(column: "delivery_id", as: String.self), event: try row.decode(column: "event", as: String.self),
                    receivedAt: try row.decode(column: "received_at", as: Int64.self), body: try row.decode(column: "body", as: String.self)
                )
            }
        }
    }

    public func pruneDeliveries(now: Int64) async throws -> Int {
        try await run {
            try await database.raw("DELETE FROM webhook_deliveries WHERE expires_at < \(bind: now) RETURNING sequence").all().count
        }
    }
}
