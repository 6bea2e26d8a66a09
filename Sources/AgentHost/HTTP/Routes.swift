import Foundation
import Hummingbird
import SecurityCore

/// The body of `GET /api/whoami`.
struct WhoAmI: ResponseEncodable {
    let agentID: String
    let role: String
    let team: String
    let tokenID: String?
    let expiresAt: String?
    let authenticatedBy: String

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", role, team, tokenID = "token_id", expiresAt = "expires_at"
        case authenticatedBy = "authenticated_by"
    }

    init(_ principal: Principal) {
        agentID = principal.agent.rawValue
        role = principal.role.rawValue
        team = principal.team.rawValue
        authenticatedBy = principal.authenticationMethod
        switch principal.authentication {
        case .agentToken(let claims):
            tokenID = claims.tokenID.hex
            expiresAt = Date(timeIntervalSince1970: TimeInterval(claims.expiresAt)).ISO8601Format()
        case .trustedHeaders:
            tokenID = nil
            expiresAt = nil
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(agentID, forKey: .agentID)
        try container.encode(role, forKey: .role)
        try container.encode(team, forKey: .team)
        // Always present, null when not applicable, so clients see a stable shape.
        try container.encode(tokenID, forKey: .tokenID)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(authenticatedBy, forKey: .authenticatedBy)
    }
}

struct Health: ResponseEncodable {
    let status: String
}

extension AgentHost {
    /// Adds AgentHost's routes to `router`, behind ``SecurityMiddleware``.
    static func addRoutes(to router: Router<AgentRequestContext>, pipeline: SecurityPipeline) {
        router.add(middleware: SecurityMiddleware(pipeline: pipeline))
        router.get("/health") { _, _ in Health(status: "ok") }
        router.get("/api/whoami") { _, context -> WhoAmI in
            // The middleware only lets a request through to a protected route with a principal.
            guard let principal = context.principal else { throw HTTPError(.unauthorized) }
            return WhoAmI(principal)
        }
    }
}
