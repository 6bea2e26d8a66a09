/// Finds the credential a request presents, without verifying it: where a credential may be is
/// decided here, what it proves by the ``Authenticator``s.
///
/// - `Authorization: Bearer <credential>` (the scheme in any case) or `X-Agent-Token: <credential>`,
///   everywhere. Both at once must carry the same credential.
/// - The password of `Authorization: Basic`, and headers named in ``CredentialLocations``, only on
///   the routes listed there.
/// - The session cookie named in ``CredentialLocations``, only on the routes listed there (forward
///   auth and the portal), and never beside another credential.
/// - Never the query string.
///
/// A header sent twice, or two different credentials, is ``AuthenticationFailure/Code/ambiguousCredentials``;
/// another `Authorization` scheme is ``AuthenticationFailure/Code/unsupportedScheme``.
struct CredentialExtractor: Sendable {
    let locations: CredentialLocations

    /// What the request presents: its credential (if any), and its credential and identity headers.
    /// `readsCookie` reads the session cookie whatever the route (forward auth, where `path` is
    /// the original request's).
    func extract(_ facts: RequestFacts, method: String, path: Substring, readsCookie: Bool = false) -> Result<
        (PresentedCredential?, CredentialHeaders), AuthenticationFailure
    > {
        let headers = CredentialHeaders(facts.fields)
        guard headers.authorizationCount <= 1, headers.tokenCount <= 1 else {
            return .failure(Self.ambiguous)
        }
        var credential: PresentedCredential?
        if let value = headers.authorization {
            let bytes = Array(value.utf8)
            if let range = Self.bearerTokenRange(bytes, checkingSpaces: false) {
                // A space inside is looked for only once something fails (PresentedCredential.isSpacedBearer).
                credential = PresentedCredential(bytes: bytes[range], source: .bearer)
            } else if !locations.basicPassword.isEmpty, locations.basicPassword.contains(where: { $0.matches(method: method, path: path) }),
                let password = Self.basicPassword(value)
            {
                credential = PresentedCredential(password, source: .basicPassword)
            } else {
                return .failure(Self.unsupportedScheme)
            }
        }
        if let value = headers.token {
            if let credential {
                if credential.isSpacedBearer { return .failure(Self.unsupportedScheme) }
                if !credential.equals(value) { return .failure(Self.ambiguous) }
            }
            credential = PresentedCredential(value, source: .agentTokenHeader)
        }
        if !locations.namedHeaders.isEmpty {
            for named in locations.namedHeaders where named.routes.contains(where: { $0.matches(method: method, path: path) }) {
                let values = facts.values(of: named.name)
                guard values.count <= 1 else { return .failure(Self.ambiguous) }
                guard let value = values.first else { continue }
                if let credential, !credential.equals(value) { return .failure(Self.ambiguous) }
                credential = PresentedCredential(value, source: .header(named.name))
            }
        }
        if let cookie = locations.cookie, readsCookie || cookie.routes.contains(where: { $0.matches(method: method, path: path) }) {
            switch CookieHeader.valueBytes(named: cookie.name, in: facts.values(of: "cookie")) {
            case .none:
                break
            case .ambiguous:
                return .failure(Self.ambiguous)
            case .one(let value):
                // A header credential and a cookie at once: which one acts is never guessed.
                if credential != nil { return .failure(Self.ambiguous) }
                credential = PresentedCredential(bytes: value, source: .cookie(cookie.name))
            }
        }
        guard headers.agentCount <= 1, headers.roleCount <= 1, headers.teamCount <= 1 else {
            if credential?.isSpacedBearer == true { return .failure(Self.unsupportedScheme) }
            return .failure(AuthenticationFailure(.ambiguousIdentity, "an X-Agent-* identity header was sent more than once"))
        }
        return .success((credential, headers))
    }

    static let ambiguous = AuthenticationFailure(.ambiguousCredentials, "more than one credential was sent")
    static let unsupportedScheme = AuthenticationFailure(.unsupportedScheme, "not a bearer credential")

    /// The password of an `Authorization: Basic` value (`user:password` in standard base64), or
    /// `nil` when the value is not that.
    static func basicPassword(_ value: String) -> String? {
        let trimmed = value.drop { $0 == " " }
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic " else { return nil }
        var encoded = trimmed.dropFirst(6).drop { $0 == " " }
        while encoded.last == " " { encoded = encoded.dropLast() }
        // Standard base64 with padding, read as base64url: swap the two characters, drop the padding.
        guard encoded.utf8.count % 4 == 0 else { return nil }
        var unpadded = Substring(encoded)
        for _ in 0..<2 where unpadded.last == "=" { unpadded = unpadded.dropLast() }
        guard !unpadded.contains("-"), !unpadded.contains("_"), !unpadded.contains("=") else { return nil }
        let urlForm = String(unpadded.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
        guard let bytes = Base64URL.decode(urlForm), let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let password = bytes[(colon + 1)...]
        guard !password.isEmpty, let text = String(validating: password, as: UTF8.self) else { return nil }
        return text
    }

    /// Where the token of an `Authorization: Bearer <token>` value's bytes is; `nil` for any other
    /// scheme or shape. With `checkingSpaces` false, a space inside the token is left for the
    /// caller to find.
    static func bearerTokenRange(_ bytes: [UInt8], checkingSpaces: Bool = true) -> Range<Int>? {
        let space = UInt8(ascii: " ")
        var start = 0
        while start < bytes.count, bytes[start] == space { start += 1 }
        // "bearer" in any case, then at least one space.
        guard bytes.count - start > bearerScheme.count else { return nil }
        for (offset, expected) in bearerScheme.enumerated() where bytes[start + offset] | 0x20 != expected {
            return nil
        }
        var tokenStart = start + bearerScheme.count
        guard bytes[tokenStart] == space else { return nil }
        while tokenStart < bytes.count, bytes[tokenStart] == space { tokenStart += 1 }
        var tokenEnd = bytes.count
        while tokenEnd > tokenStart, bytes[tokenEnd - 1] == space { tokenEnd -= 1 }
        guard tokenStart < tokenEnd else { return nil }
        guard checkingSpaces else { return tokenStart..<tokenEnd }
        return bytes[tokenStart..<tokenEnd].contains(space) ? nil : tokenStart..<tokenEnd
    }

    private static let bearerScheme: [UInt8] = Array("bearer".utf8)
}
