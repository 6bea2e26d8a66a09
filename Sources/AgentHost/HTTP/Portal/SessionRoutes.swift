import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SecurityCore
import SecurityStore

/// A user's browser sessions over the JSON API, with a header credential (never the cookie): the
/// user for their own, an admin for anyone's (the default policy's `sessions.manage`).
///
/// - `GET /api/users/{user}/sessions`: the live sessions, newest first.
/// - `DELETE /api/users/{user}/sessions/{session}`: ends one, on every server.
/// - `DELETE /api/users/{user}/sessions`: ends them all.
struct SessionRoutes: Sendable {
    let components: AgentHost.Components

    func add(to router: Router<AgentRequestContext>) {
        router.get("/api/users/{user}/sessions") { _, context in try await list(context) }
        router.delete("/api/users/{user}/sessions/{session}") { _, context in try await end(context) }
        router.delete("/api/users/{user}/sessions") { _, context in try await endAll(context) }
    }

    private func sessions() throws -> BrowserSessions {
        guard let sessions = components.browserSessions else {
            throw HTTPRefusal(404, .notFound, "This server has no sign-in portal, so no browser sessions (agenthost serve --portal).")
        }
        return sessions
    }

    private func user(_ context: AgentRequestContext) throws -> String {
        let name = context.parameters.get("user") ?? ""
        guard (try? AgentID(name)) != nil else { throw HTTPRefusal(400, .invalidName, "A user name is 1-128 of A-Z a-z 0-9 _ -.") }
        return name
    }

    private func list(_ context: AgentRequestContext) async throws -> Response {
        let sessions = try sessions(), username = try user(context)
        let records = try await store(context) { try await sessions.sessions(of: username) }
        return JSONBody.response(.object(["sessions": .array(records.map { .object(Self.describe($0)) })]))
    }

    private func end(_ context: AgentRequestContext) async throws -> Response {
        let sessions = try sessions(), username = try user(context)
        guard let id = context.parameters.get("session").flatMap(TokenID.init(hex:)),
            let record = try await store(context, { try await sessions.session(id) }), record.username == username, record.endedAt == nil
        else {
            throw HTTPRefusal(404, .notFound, "That user has no such live session.")
        }
        _ = try await store(context) { try await sessions.end(id, expiresAt: record.expiresAt) }
        audit(context, target: username, details: ["session": id.hex])
        return Response(status: .noContent)
    }

    private func endAll(_ context: AgentRequestContext) async throws -> Response {
        let sessions = try sessions(), username = try user(context)
        let ended = try await store(context) { try await sessions.endAll(of: username) }
        audit(context, target: username, details: ["sessions": "\(ended)"])
        return JSONBody.response(.object(["ended": .integer(Int64(ended))]))
    }

    private func audit(_ context: AgentRequestContext, target: String, details: [String: String]) {
        let actor = context.principal?.id ?? "anonymous"
        context.logger.notice("browser sessions ended", metadata: ["user": .string(target), "by": .string(actor)])
        components.audit(
            context.id, "session.ended", actor: actor, target: "user:" + target, details: details.merging(["by": "api"]) { $1 })
    }

    private func store<Result>(_ context: AgentRequestContext, _ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }

    /// A session as the API shows it.
    static func describe(_ record: BrowserSessionRecord) -> [String: JSONValue] {
        [
            "id": .string(record.id.hex), "created_at": .string(UTCTimestamp.string(seconds: record.createdAt)),
            "last_seen_at": .string(UTCTimestamp.string(seconds: record.lastSeenAt)),
            "expires_at": .string(UTCTimestamp.string(seconds: record.expiresAt)), "client": .string(record.client),
            "user_agent": .string(record.userAgent),
        ]
    }
}
