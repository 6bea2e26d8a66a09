import SecurityCore

/// API keys (`ahk_…`) or device credentials (`ahd_…`), one kind per authenticator, checked against
/// the digests in the ``AccessDirectory`` without a database round trip.
struct AccessKeyAuthenticator: Authenticator {
    let keyKind: AccessKeyRecord.Kind
    let directory: AccessDirectory

    var kind: CredentialKind { AccessKeyFormat.credentialKind(of: keyKind) }

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        guard let (kind, id, secret) = AccessKeyFormat.parse(credential.text), kind == keyKind else {
            return .failure(AuthenticationFailure(.invalidCredential, "not a well-formed access key"))
        }
        return directory.authenticate(kind, id: id, secret: secret)
    }
}

/// Setup tokens (`ahs_…`): they authenticate nothing but onboarding, whose handler checks and uses
/// one up (`X-Setup-Token` on `POST /api/credentials`). Anywhere else one is refused as an invalid
/// credential, with a reason in the log that says why.
struct SetupTokenAuthenticator: Authenticator {
    var kind: CredentialKind { .setupToken }

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        return .failure(AuthenticationFailure(.invalidCredential, "a setup token is accepted only as X-Setup-Token by onboarding"))
    }
}
