import SecurityCore

/// User sessions from `POST /api/login`: agent-token format under the session audience.
///
/// Agent tokens name another audience, so they are not claimed here (and their tags are not
/// computed twice). A session proves a user only while the user exists and has not changed its
/// password since the session began; the role is the user's current one, so a demotion takes
/// effect on open sessions too.
struct SessionAuthenticator: Authenticator {
    let sessions: TokenVerifier
    let directory: AccessDirectory

    var kind: CredentialKind { .agentToken }

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        let claims: AgentTokenClaims
        switch sessions.claims(of: credential) {
        case .success(let verified)?: claims = verified
        case .failure(let failure)?: return .failure(failure)
        case nil: return nil
        }
        guard let user = directory.user(claims.agent.rawValue) else {
            return .failure(AuthenticationFailure(.unknownUser, "the user no longer exists"))
        }
        guard claims.issuedAt >= user.sessionsNotBefore else {
            return .failure(AuthenticationFailure(.sessionEnded, "the session was ended by a password change"))
        }
        return .success(Principal(subject: .user(claims), role: user.role, team: claims.team))
    }
}
