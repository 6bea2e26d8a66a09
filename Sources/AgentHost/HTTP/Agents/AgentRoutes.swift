import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SecurityCore

/// `GET /api/whoami`, `POST /api/agents` and `POST /api/tokens/revoke`: who the caller is, minting a
/// token for an agent being spawned, and revoking tokens.
struct AgentRoutes: Sendable {
    let components: AgentHost.Components

    func add(to router: Router<AgentRequestContext>) {
        router.get("/api/whoami") { _, context -> WhoAmI in
            // The middleware only lets a request through to a protected route with a principal.
            guard let principal = context.principal else { throw HTTPError(.unauthorized) }
            return WhoAmI(principal)
        }
        let agents = CreateAgent(components: components)
        router.post("/api/agents") { request, context in try await agents.handle(request, context: context) }
        let revoke = RevokeTokens(components: components)
        router.post("/api/tokens/revoke") { request, context in try await revoke.handle(request, context: context) }
    }
}

/// The body of `GET /api/whoami`: who the server believes the caller is.
///
/// Written as bytes rather than through `JSONEncoder`: this is the route every agent calls, and
/// Codable's reflection cost as much as the whole security pipeline in front of it.
struct WhoAmI: ResponseGenerator {
    let agentID: String
    let role: String
    let team: String
    let tokenID: String?
    let expiresAt: String?
    let authenticatedBy: String
    let subject: String
    let trust: String?

    init(_ principal: Principal) {
        agentID = principal.subject.name
        role = principal.role.rawValue
        team = principal.team.rawValue
        authenticatedBy = principal.subject.method
        subject = principal.id
        trust = principal.subject.deviceTrust?.name
        let claims = principal.subject.tokenClaims
        tokenID = claims?.tokenID.hex
        expiresAt = claims.map { UTCTimestamp.string(seconds: $0.expiresAt) }
    }

    /// `{"agent_id":…,"role":…,"team":…,"token_id":…,"expires_at":…,"authenticated_by":…,"subject":…}`,
    /// plus `"trust"` for a device. `token_id` and `expires_at` are always present (null when not
    /// applicable), so clients see a stable shape.
    var json: [UInt8] {
        var object = JSONWriter.Object()
        object.add("agent_id", agentID)
        object.add("role", role)
        object.add("team", team)
        object.add("token_id", tokenID)
        object.add("expires_at", expiresAt)
        object.add("authenticated_by", authenticatedBy)
        object.add("subject", subject)
        if let trust { object.add("trust", trust) }
        return object.finish()
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: json))
        )
    }
}

/// `POST /api/agents`: an orchestrator mints a token for an agent it is spawning.
///
/// The policy decides who may call it (admin or owner in the default policy) and the `sensitive`
/// rate limit applies. On top of that, nobody mints a role that ranks above their own, and only a
/// caller with a token mints: an identity believed from headers would otherwise become a real
/// token that still works after the server leaves header-trust mode.
struct CreateAgent: Sendable {
    let components: AgentHost.Components
    var minter: TokenMinter { components.minter }
    var policy: Policy { components.policy }
    let schema: Schema

    init(components: AgentHost.Components) {
        self.components = components
        schema = .object([
            "agent_id": .required(.string(format: .identifier)),
            "role": .required(.string(format: .identifier)),
            "team": .optional(.string(length: 0...128, pattern: Self.teamPattern)),
            "ttl": .optional(.duration(1...components.minter.policy.maximumLifetime)),
        ])
    }

    // A constant that compiles; checked by the tests.
    private static let teamPattern = try? Schema.Pattern("[A-Za-z0-9_-]*")

    func handle(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let caller = context.principal else { throw HTTPError(.unauthorized) }
        guard caller.mayIssueCredentials else {
            // Header-trust identities are unproven; a token minted for one would outlive the mode.
            throw HTTPRefusal(
                Refusal(
                    status: 403, code: .tokenRequired,
                    detail:
                        "Minting needs a caller authenticated by an agent token or a user session; header-trust identities, API keys and devices cannot mint. Use 'agenthost token mint' for the first token."
                ))
        }
        let value = try await JSONBody.read(request, schema: schema)
        let requestedRole = value["role"]?.stringValue ?? ""
        guard policy.mayGrant(requestedRole, caller: caller.role.rawValue) else {
            throw HTTPRefusal(
                Refusal(
                    status: 403, code: .roleAboveCaller,
                    detail: "A token may not be minted for a role that ranks above the caller's own."
                ))
        }
        let minted: MintedToken
        do {
            minted = try minter.mint(
                agent: AgentID(value["agent_id"]?.stringValue ?? ""), role: Role(requestedRole),
                team: Team(value["team"]?.stringValue ?? ""),
                lifetime: Schema.durationSeconds(value["ttl"]).map { .seconds($0) }
            )
        } catch is IdentityError {
            // The schema already checks these; this keeps a gap between the two from becoming a 500.
            throw HTTPRefusal(
                Refusal(
                    status: 400, code: .invalidIdentity,
                    detail: "agent_id, role and team must be 1-128 of A-Z a-z 0-9 _ - (team may be empty)."
                ))
        } catch let error as TokenError where error.code == .noSigningKey {
            throw HTTPRefusal(
                Refusal(
                    status: 503, code: .noSigningKey,
                    detail:
                        "The server's keyring has no primary key, so it cannot mint tokens; an operator must run 'agenthost keys rotate'."
                ))
        }
        context.logger.notice(
            "minted agent token",
            metadata: [
                "token_id": .string(minted.claims.tokenID.hex), "agent": .string(minted.claims.agent.rawValue),
                "role": .string(minted.claims.role.rawValue), "by": .string(caller.id),
            ]
        )
        components.audit(
            context.id, "token.minted", actor: caller.id, target: minted.claims.agent.rawValue,
            details: ["token_id": minted.claims.tokenID.hex, "role": minted.claims.role.rawValue]
        )
        let expires = UTCTimestamp.string(seconds: minted.claims.expiresAt)
        let reply = JSONValue.object([
            "token": .string(minted.token), "token_id": .string(minted.claims.tokenID.hex),
            "agent_id": .string(minted.claims.agent.rawValue), "role": .string(minted.claims.role.rawValue),
            "team": .string(minted.claims.team.rawValue), "expires_at": .string(expires),
        ])
        return JSONBody.response(reply, status: .created)
    }
}

extension Principal {
    /// Whether the principal may mint tokens, create keys and devices, or revoke: an agent token
    /// or a user session. Header-trust identities are unproven, a leaked API key or device must
    /// not be able to make itself new credentials that outlive its deletion, and a lease must not
    /// make itself credentials that outlive its run.
    var mayIssueCredentials: Bool {
        switch subject {
        case .agent, .user: true
        case .lease, .trustedAgent, .apiKey, .device: false
        }
    }
}

extension Policy {
    /// Whether a caller with role `caller` may give out `role` (a token, API key or device):
    /// ranked roles up to the caller's own rank; roles without a rank only by the same role or by
    /// admin and above.
    func mayGrant(_ role: String, caller: String) -> Bool {
        let callerRank = rank(of: caller)
        if let wanted = rank(of: role) {
            guard let callerRank else { return false }
            return callerRank >= wanted
        }
        return role == caller || (callerRank ?? -1) >= Policy.builtInRoles.firstIndex(of: "admin")!
    }
}
