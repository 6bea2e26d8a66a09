/// Verifies one kind of credential: an agent token, a user session, an API key, a device secret.
///
/// The pipeline hands each presented credential to its authenticators in order. Each one claims
/// credentials by their prefix or shape and answers for those alone: the principal the credential
/// proves, or the failure when it is of its kind but not valid. For anything else it returns `nil`,
/// and the next one is asked. A credential nobody claims is refused as
/// ``AuthenticationFailure/Code/invalidCredential``.
///
/// Authenticators answer from memory (they run on every request) and verify a credential exactly
/// once. A new kind of credential is a new authenticator, added to
/// ``SecurityPipeline/Configuration/authenticators``:
///
/// ```swift
/// struct PartnerKeyAuthenticator: Authenticator {
///     let keys: [String: (id: AgentID, role: Role)]
///     func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
///         guard credential.hasPrefix("pk_") else { return nil }            // not ours
///         guard let key = keys[credential.text] else {                     // ours, but not valid
///             return .failure(AuthenticationFailure(.invalidCredential, "unknown partner key"))
///         }
///         return .success(Principal(subject: .apiKey(key.id), role: key.role, team: .none))
///     }
/// }
/// ```
public protocol Authenticator: Sendable {
    /// The principal `credential` proves; a failure when it is this authenticator's kind but not
    /// valid; `nil` when it is not its kind.
    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>?
}

/// Agent tokens (`ah1.…` minted for the verifier's audience).
///
/// A token for another audience (a user session is one) is not claimed, and the tag of such a
/// token is not computed here: its audience is compared before the tag is, so whichever
/// authenticator owns that audience verifies it, once.
public struct AgentTokenAuthenticator: Authenticator {
    /// Verifies the tokens.
    public let verifier: TokenVerifier

    public init(verifier: TokenVerifier) {
        self.verifier = verifier
    }

    public func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        guard credential.hasPrefix("ah1.") else { return nil }
        switch credential.withBytes({ verifier.check(bytes: $0) }) {
        case .success(let claims): return .success(Principal(subject: .agent(claims), role: claims.role, team: claims.team))
        case .failure(let error) where error.code == .wrongAudience: return nil
        case .failure(let error): return .failure(AuthenticationFailure(error))
        }
    }
}
