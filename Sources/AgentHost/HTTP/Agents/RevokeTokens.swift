import Hummingbird
import Logging
import SecurityCore
import SecurityStore

/// `POST /api/tokens/revoke` with `{"token_id": "<32 hex>"}` or `{"agent_id": "..."}`: from then
/// on that token, or every token the agent was issued until now, gets `401 token_revoked`, on
/// every server sharing the store and after a restart.
///
/// The revocation is stored before it takes effect in memory, so a `204` means it is durable.
/// Header-trust callers cannot revoke: an unproven identity must not lock real agents out.
struct RevokeTokens: Sendable {
    let components: AgentHost.Components
    let schema: Schema = .object([
        "token_id": .optional(.string(length: 32...32, pattern: try? Schema.Pattern("[0-9a-fA-F]{32}"))),
        "agent_id": .optional(.string(format: .identifier)),
    ])

    func handle(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let caller = context.principal, caller.mayIssueCredentials else {
            throw HTTPRefusal(
                Refusal(
                    status: 403, code: .tokenRequired,
                    detail:
                        "Revoking needs a caller authenticated by an agent token or a user session, not a header-trust identity, API key or device."
                ))
        }
        let value = try await JSONBody.read(request, schema: schema)
        let tokenID = value["token_id"]?.stringValue.flatMap { TokenID(hex: $0) }
        let agent = value["agent_id"]?.stringValue.flatMap { try? AgentID($0) }
        guard (tokenID == nil) != (agent == nil) else {
            throw HTTPRefusal(
                Refusal(
                    status: 400, code: .invalidRequest, detail: "Give exactly one of token_id or agent_id."
                ))
        }
        let now = components.clock.now()
        let verifier = components.pipeline.configuration.verifier
        do {
            if let tokenID {
                // The token cannot outlive the longest lifetime accepted, whenever it was minted.
                let expiresAt = now + verifier.policy.maximumLifetime + verifier.policy.leeway
                try await components.revocationStore?.recordRevocation(tokenID: tokenID, expiresAt: expiresAt, at: now)
                components.revocations.revoke(tokenID: tokenID, expiresAt: expiresAt)
            } else if let agent {
                // Tokens minted later in this same second are refused too: revocation wins ties.
                try await components.revocationStore?.recordRevocation(agent: agent, issuedBefore: now + 1, at: now)
                components.revocations.revokeAll(of: agent, issuedBefore: now + 1)
            }
        } catch let error as StoreError {
            context.logger.error("store refused", metadata: ["code": .string(error.code.description), "reason": .string(error.reason)])
            throw HTTPRefusal(
                Refusal(
                    status: 503, code: .storeUnavailable,
                    detail: "The revocation could not be stored, so it has not taken effect. Try again."
                ))
        }
        components.audit(
            context.id, "token.revoked", actor: caller.id, target: tokenID.map { "token:" + $0.hex } ?? "agent:" + (agent?.rawValue ?? "")
        )
        context.logger.notice(
            "revoked tokens",
            metadata: [
                "token_id": .string(tokenID?.hex ?? "-"), "agent": .string(agent?.rawValue ?? "-"), "by": .string(caller.id),
            ]
        )
        return Response(status: .noContent)
    }
}
