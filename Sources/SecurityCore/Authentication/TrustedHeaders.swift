/// Header-trust mode's identity: the `X-Agent-ID`, `X-Agent-Role` and `X-Agent-Team` headers,
/// believed without proof. Only when no credential is presented, and only in that mode.
enum TrustedHeaders {
    static func principal(_ headers: CredentialHeaders) -> Result<Principal, AuthenticationFailure> {
        guard let agentText = headers.agent, let roleText = headers.role else {
            return .failure(AuthenticationFailure(.missingIdentityHeaders, "header-trust mode needs X-Agent-ID and X-Agent-Role"))
        }
        guard let agent = try? AgentID(agentText), let role = try? Role(roleText), let team = try? Team(headers.team ?? "") else {
            return .failure(AuthenticationFailure(.invalidIdentityHeaders, "X-Agent-* headers are not valid identifiers"))
        }
        return .success(Principal(subject: .trustedAgent(agent), role: role, team: team))
    }
}
