import SecurityCore

/// Browser sessions: the portal's session cookie (`ahb1.…`), the agent-token format under the
/// browser audience (Docs/SIGN_IN.md).
///
/// It is taken only from the session cookie, never from a header. A session proves its user only
/// while:
/// - its token is authentic, unexpired (the absolute lifetime) and not revoked (signed out or
///   ended, on any server: the revocation reaches every server through the store);
/// - the user exists, has not changed password since it began, and still has the role it began
///   with (a change of role ends it: the next sign-in starts a new one);
/// - it has been used within the idle timeout, on any server (``SessionActivity``).
///
/// Each use it admits is recorded for the idle timeout.
struct BrowserSessionAuthenticator: Authenticator {
    let sessions: TokenVerifier
    let directory: AccessDirectory
    let activity: SessionActivity
    let clock: any TimeSource
    /// Seconds a session may go unused.
    let idleTimeout: Int64

    var kind: CredentialKind { .browserSession }

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        // Only from the cookie, where a page's script cannot read it: copied into a header, it
        // would act on the JSON API too.
        guard case .cookie = credential.source else {
            return .failure(AuthenticationFailure(.invalidCredential, "a browser session counts only in its cookie"))
        }
        let claims: AgentTokenClaims
        switch sessions.check(bytes: credential.bytes) {
        case .success(let verified): claims = verified
        case .failure(let error): return .failure(AuthenticationFailure(error))
        }
        guard let user = directory.user(claims.agent.rawValue) else {
            return .failure(AuthenticationFailure(.unknownUser, "the user no longer exists"))
        }
        guard claims.issuedAt >= user.sessionsNotBefore else {
            return .failure(AuthenticationFailure(.sessionEnded, "the session was ended by a password change"))
        }
        guard claims.role == user.role else {
            return .failure(AuthenticationFailure(.sessionEnded, "the session was ended by a change of role"))
        }
        guard activity.use(claims.tokenID, begunAt: claims.issuedAt, at: clock.now(), idleTimeout: idleTimeout) else {
            return .failure(AuthenticationFailure(.sessionEnded, "the session was idle too long"))
        }
        return .success(Principal(subject: .user(claims), role: user.role, team: claims.team))
    }
}
