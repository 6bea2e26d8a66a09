import SecurityCore

/// Leases (Docs/RUN.md): agent tokens (`ah1.…`) under the lease audience, held by an agent that
/// `agenthost run` launched.
///
/// A lease proves its agent only while:
/// - its token is authentic, within the run's longest life, and not revoked (its run ended, on
///   any server);
/// - its run is open on this server's books, and its launcher renewed it within the lease TTL.
///
/// The agent's own calls never renew it: only the launcher's renewals do, so a lease whose
/// launcher was killed stops working within the TTL even while someone keeps using it.
struct LeaseAuthenticator: Authenticator {
    let leases: TokenVerifier
    let runs: AgentRuns

    var kind: CredentialKind { .agentToken }

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        let claims: AgentTokenClaims
        switch leases.claims(of: credential) {
        case .success(let verified)?: claims = verified
        case .failure(let failure)?: return .failure(failure)
        case nil: return nil
        }
        switch runs.standing(of: claims.tokenID) {
        case .live: return .success(Principal(subject: .lease(claims), role: claims.role, team: claims.team))
        case .lapsed: return .failure(AuthenticationFailure(.expired, "the lease lapsed: its launcher stopped renewing it"))
        case .unknown: return .failure(AuthenticationFailure(.revoked, "the lease's run is not open on this server"))
        }
    }
}
