@testable import SecurityCore
import Testing

/// Every error type of SecurityCore has the one shape: a stable code, a reason, and a description
/// `TypeName(code): reason`.
struct CodedErrorTests {
    static let samples: [any CodedError] = [
        TokenError(.expired, "token has expired"),
        CryptoError(.invalidKeySize, "a 16-byte key"),
        AuthenticationFailure(.sessionEnded, "the session was ended by a password change"),
        IdentityError(.tooLong, kind: "role", "longer than 128 characters"),
        JSONParseError(.duplicateName, "duplicate member name", offset: 7),
        PolicyLoadError(.invalid, source: "p.yaml", line: 3, item: "rule r", reason: "unknown role"),
        RateLimitError(.invalidScope, "scope x: limit must be at least 1"),
        BodyLimitsError(.invalidLimit, "a body cap must be between 0 bytes and 1 GiB"),
        CORSConfigurationError(.noOrigins, "a CORS policy needs at least one origin"),
        SchemaError(.invalidPattern, "pattern /(/ does not compile"),
        PathGuardError(.outsideRoot, "the path leaves the root"),
        VaultError(.recordMismatch, "the record does not open as asked"),
        GitError(.gitMissing, "git was not found on PATH"),
        ScrubError(.credentialFound, "a credential was found"),
    ]

    @Test func everyErrorHasTheOneDescriptionFormat() {
        for error in Self.samples {
            let type = String(describing: Swift.type(of: error))
            #expect("\(error)".hasPrefix("\(type)(\(error.code)): "), "\(error)")
            #expect("\(error)".contains(error.reason), "\(error)")
            #expect(!"\(error.code)".isEmpty && !"\(error.code)".contains(" "), "\(error.code)")
        }
    }

    @Test func codesCompareByValueAndPrintTheirStableName() {
        #expect(TokenError(.expired, "a").code == TokenError.Code.expired)
        #expect(TokenError(.expired, "a").code != TokenError.Code.revoked)
        #expect(TokenError.Code.notYetValid.description == "token_not_yet_valid")
        #expect(VaultError.Code.recordMismatch.description == "record_mismatch")
        #expect(AuthenticationFailure.Code.invalidCredential.description == "invalid_credential")
        #expect(JSONParseError(.tooDeep, "nested deeper than 32", offset: 1).tooDeep)
    }
}
