/// Verifies one kind of credential: an agent token, a user session, an API key, a device secret.
///
/// Each authenticator declares its ``kind``: the prefix its credentials start with and where they
/// may be presented. The pipeline hands a presented credential, in order, to the authenticators
/// whose kind's prefix it has. Each answers: the principal the credential proves, the failure when
/// it is of its kind but not valid, or `nil` when it is not its to judge (an agent token of another
/// audience), and the next one is asked. A credential nobody claims is refused as
/// ``AuthenticationFailure/Code/invalidCredential``. Everything else that must know the kind (the
/// redactor, AgentHost's proxy) reads it from the same declaration.
///
/// Authenticators answer from memory (they run on every request) and verify a credential exactly
/// once. A new kind of credential is a new authenticator, added to
/// ``SecurityPipeline/Configuration/authenticators``:
///
/// ```swift
/// struct PartnerKeyAuthenticator: Authenticator {
///     let kind = CredentialKind(name: "partner-key", prefix: "pk_", minimumBodyLength: 32)
///     let keys: [String: (id: AgentID, role: Role)]
///     func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
///         guard let key = keys[credential.text] else {                     // ours, but not valid
///             return .failure(AuthenticationFailure(.invalidCredential, "unknown partner key"))
///         }
///         return .success(Principal(subject: .apiKey(key.id), role: key.role, team: .none))
///     }
/// }
/// ```
public protocol Authenticator: Sendable {
    /// The kind of credential this authenticator judges: only credentials with its prefix are
    /// handed to it.
    var kind: CredentialKind { get }

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

    public var kind: CredentialKind { .agentToken }

    public func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        verifier.claims(of: credential)?.map { claims in Principal(subject: .agent(claims), role: claims.role, team: claims.team) }
    }
}

extension TokenVerifier {
    /// What an authenticator of tokens in this format answers first: the claims of `credential`,
    /// a failure when it is not valid, or `nil` when it names another audience (it is another
    /// authenticator's, and its tag was not computed here).
    package func claims(of credential: PresentedCredential) -> Result<AgentTokenClaims, AuthenticationFailure>? {
        switch check(bytes: credential.bytes) {
        case .success(let claims): .success(claims)
        case .failure(let error) where error.code == .wrongAudience: nil
        case .failure(let error): .failure(AuthenticationFailure(error))
        }
    }
}
