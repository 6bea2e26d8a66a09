import SecurityCore

/// A credential kind of this server's own: partner keys, `pk_` followed by the secret, sent in
/// `x-api-key` (Docs/EMBEDDING.md, "Other credentials"). One type and one line in the pipeline's
/// list of authenticators.
struct PartnerKeys: Authenticator {
    /// Declared once: the pipeline hands this authenticator only credentials with its prefix, and
    /// the redactor masks the shape in logs.
    let kind = CredentialKind(name: "partner-key", prefix: "pk_", minimumBodyLength: 16)
    /// The one partner this example knows, and the role it acts with.
    let key: SecureBytes
    let partner: AgentID

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        let presented = SecureBytes(copying: credential.bytes)
        guard presented == key, let role = try? Role("member") else {
            return .failure(AuthenticationFailure(.invalidCredential, "the partner key is not valid"))
        }
        return .success(Principal(subject: .apiKey(partner), role: role, team: .none))
    }
}
