import SecurityCore

/// A credential kind of this server's own: partner keys, `pk_` followed by the secret, sent in
/// `x-api-key` (Docs/EMBEDDING.md, "Other credentials"). One type and one line in the pipeline's
/// list of authenticators.
struct PartnerKeys: Authenticator {
    /// The one partner this example knows, and the role it acts with.
    let key: SecureBytes
    let partner: AgentID

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        guard credential.hasPrefix("pk_") else { return nil }  // not ours: the next authenticator's
        let presented = credential.withBytes { SecureBytes(copying: $0) }
        guard presented == key, let role = try? Role("member") else {
            return .failure(AuthenticationFailure(.invalidCredential, "the partner key is not valid"))
        }
        return .success(Principal(subject: .apiKey(partner), role: role, team: .none))
    }
}
