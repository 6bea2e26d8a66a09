import SecurityCore

/// API keys (`ahk_…`) or device credentials (`ahd_…`), one kind per authenticator, checked against
/// the digests in the ``AccessDirectory`` without a database round trip.
struct AccessKeyAuthenticator: Authenticator {
    let kind: AccessKeyRecord.Kind
    let directory: AccessDirectory

    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        guard credential.hasPrefix(kind == .device ? "ahd_" : "ahk_") else { return nil }
        guard let (kind, id, secret) = AccessKeyFormat.parse(credential.text), kind == self.kind else {
            return .failure(AuthenticationFailure(.invalidCredential, "not a well-formed access key"))
        }
        return directory.authenticate(kind, id: id, secret: secret)
    }
}

/// Setup tokens (`ahs_…`): they authenticate nothing but onboarding, whose handler checks and uses
/// one up (`X-Setup-Token` on `POST /api/credentials`). Anywhere else one is refused as an invalid
/// credential, with a reason in the log that says why.
struct SetupTokenAuthenticator: Authenticator {
    func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
        guard credential.hasPrefix("ahs_") else { return nil }
        return .failure(AuthenticationFailure(.invalidCredential, "a setup token is accepted only as X-Setup-Token by onboarding"))
    }
}
