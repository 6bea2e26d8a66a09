import Foundation
import HTTPTypes
import Hummingbird
import SecurityCore
import SecurityStore

/// `POST /webhooks/gitlab` and `POST /webhooks/github`, each only when its secret is configured
/// (otherwise the path does not exist: 404), and `GET /api/webhooks/deliveries` for consumers.
///
/// A delivery is accepted once: the secret or signature is checked first (`401`, which also spends
/// from the client's failed-authentication budget), then the delivery id (`400` without one), then
/// the JSON (`400`); only then is the id kept, for ``AgentHost/webhookRetention``, so a rejected
/// delivery never uses up its id and a replay, also after a restart, gets `200 {"status": "duplicate"}`
/// with no effect.
struct WebhookRoutes: Sendable {
    static let paths = WebhookVerifier.Provider.allCases.map { "/webhooks/\($0.rawValue)" }

    let components: AgentHost.Components

    func add(to router: Router<AgentRequestContext>) {
        for verifier in components.webhooks {
            router.post(RouterPath("/webhooks/\(verifier.provider.rawValue)")) { request, context in
                try await receive(request, verifier: verifier, context: context)
            }
        }
        router.get("/api/webhooks/deliveries") { request, context in try await list(request, context: context) }
    }

    private func receive(_ request: Request, verifier: WebhookVerifier, context: AgentRequestContext) async throws -> Response {
        let body = Array(try await request.body.collect(upTo: .max).readableBytesView)
        let client = components.pipeline.configuration.clientAddresses.clientAddress(
            peer: context.remoteAddress?.ipAddress, fields: request.headers)
        let path = "/webhooks/\(verifier.provider.rawValue)"
        let delivery: WebhookVerifier.Delivery
        switch verifier.verify(fields: request.headers, body: body) {
        case .success(let verified): delivery = verified
        case .failure(let refusal):
            if refusal.status == 401 {
                components.pipeline.configuration.rateLimiter?.recordRefused(
                    method: "POST", path: path[...], client: client?.description, authenticationFailed: true
                )
            }
            components.audit?.recordRefusal(
                action: "webhook.rejected", code: refusal.problem.code, client: client?.description ?? "-", actor: "anonymous",
                target: "POST " + path, requestID: context.id
            )
            throw HTTPRefusal(refusal)
        }
        guard case .object? = try? JSONValue.parse(body) else {
            throw HTTPRefusal(400, .invalidJSON, "The delivery body is not a JSON object; it was not kept.")
        }
        guard let store = components.webhookStore else {
            throw HTTPRefusal(503, .storeUnavailable, "This server was started without a store, so it cannot keep deliveries.")
        }
        let now = components.clock.now()
        let isNew: Bool
        do {
            isNew = try await store.recordDelivery(
                provider: delivery.provider.rawValue, id: delivery.id, event: delivery.event, body: String(decoding: body, as: UTF8.self),
                at: now, expiresAt: now + AgentHost.webhookRetention
            )
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
        guard isNew else { return JSONBody.response(.object(["status": .string("duplicate")])) }
        components.audit(
            context.id, "webhook.accepted", actor: delivery.provider.rawValue, target: delivery.id, client: client?.description ?? "-",
            details: ["event": delivery.event]
        )
        return JSONBody.response(.object(["status": .string("accepted")]))
    }

    private func list(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let store = components.webhookStore else {
            throw HTTPRefusal(503, .storeUnavailable, "This server was started without a store, so it keeps no deliveries.")
        }
        guard let (after, limit) = Paging.parse(request.uri.queryParameters) else { throw Paging.refusal("a delivery sequence number") }
        do {
            let records = try await store.deliveries(after: after, limit: limit)
            return JSONBody.response(
                .object([
                    "deliveries": .array(
                        records.map { record in
                            .object([
                                "sequence": .integer(record.sequence), "provider": .string(record.provider), "id": .string(record.id),
                                "event": .string(record.event), "received_at": .string(UTCTimestamp.string(seconds: record.receivedAt)),
                                "body": (try? JSONValue.parse(Array(record.body.utf8))) ?? .string(record.body),
                            ])
                        }),
                    "next": records.count == limit ? .integer(records[records.count - 1].sequence) : .null,
                ]))
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }
}
