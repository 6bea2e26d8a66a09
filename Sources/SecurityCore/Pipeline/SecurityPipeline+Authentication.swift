extension SecurityPipeline {
    /// Establishes who the request acts for, or the 401 that refuses it.
    public func authenticate(_ facts: RequestFacts) -> Result<Principal, Refusal> {
        identify(facts).mapError { unauthorized($0) }
    }

    /// ``authenticate(_:)`` with the reason as a small value: the pipeline builds the 401 only when
    /// it refuses, instead of carrying a refusal-sized `Result` through every allowed request.
    func identify(_ facts: RequestFacts) -> Result<Principal, AuthenticationFailure> {
        let headers = CredentialHeaders(facts.headers)
        guard headers.authorizationCount <= 1, headers.tokenCount <= 1 else {
            return .failure(.ambiguousCredentials)
        }
        // A bearer token with a space inside is an unsupported scheme. Looking for one is left until
        // something fails: a token that verifies is base64url and has none.
        var token: TokenText?
        if let value = headers.authorization {
            guard let range = Self.bearerTokenRange(value, checkingSpaces: false) else {
                return .failure(.unsupportedScheme)
            }
            token = TokenText(header: value, range: range, isBearer: true)
        }
        if let value = headers.token {
            if let token {
                if token.isSpacedBearer { return .failure(.unsupportedScheme) }
                if !token.equals(value) { return .failure(.ambiguousCredentials) }
            }
            token = TokenText(header: value, range: 0..<value.utf8.count, isBearer: false)
        }

        guard headers.agentCount <= 1, headers.roleCount <= 1, headers.teamCount <= 1 else {
            return .failure(token?.isSpacedBearer == true ? .unsupportedScheme : .ambiguousIdentity)
        }
        if let token {
            let principal: Principal
            switch token.withBytes({ configuration.verifier.check(bytes: $0) }) {
            case .success(let claims):
                principal = Principal(agent: claims.agent, role: claims.role, team: claims.team, authentication: .agentToken(claims))
            case .failure(let error):
                if token.isSpacedBearer { return .failure(.unsupportedScheme) }
                // Not an agent token: a user session (another audience), an API key or a device.
                guard error.code == .malformed || error.code == .wrongAudience,
                      let other = configuration.credentials?.authenticate(token.string)
                else {
                    return .failure(.invalidToken(error))
                }
                switch other {
                case .success(let authenticated): principal = authenticated
                case .failure(let error): return .failure(.invalidToken(error))
                }
            }
            // Identity binding: headers that name an identity must name the credential's.
            if let agent = headers.agent, agent != principal.agent.rawValue {
                return .failure(.identityMismatch("X-Agent-ID"))
            }
            if let role = headers.role, role != principal.role.rawValue {
                return .failure(.identityMismatch("X-Agent-Role"))
            }
            if let team = headers.team, team != principal.team.rawValue {
                return .failure(.identityMismatch("X-Agent-Team"))
            }
            return .success(principal)
        }

        guard configuration.mode == .headerTrust else {
            return .failure(.missingCredential)
        }
        guard let agentText = headers.agent, let roleText = headers.role else {
            return .failure(.missingIdentityHeaders)
        }
        guard let agent = try? AgentID(agentText), let role = try? Role(roleText),
              let team = try? Team(headers.team ?? "")
        else {
            return .failure(.invalidIdentityHeaders)
        }
        return .success(Principal(agent: agent, role: role, team: team, authentication: .trustedHeaders))
    }

    /// Whether the request carries anything that claims an identity: a token, or in header-trust
    /// mode an `X-Agent-ID` header. Without one, a policy that allows anonymous access decides.
    func presentsCredential(_ facts: RequestFacts) -> Bool {
        for field in facts.headers {
            let name = field.name
            if CredentialHeaders.named(name, "authorization") || CredentialHeaders.named(name, "x-agent-token") {
                return true
            }
            if configuration.mode == .headerTrust, CredentialHeaders.named(name, "x-agent-id") { return true }
        }
        return false
    }

    /// Where the token of an `Authorization: Bearer <token>` value is, as UTF-8 offsets; `nil` for
    /// any other scheme or shape. Offsets rather than a `Substring`: a token is a few hundred ASCII
    /// characters, and walking them as Characters, or even cutting a `Substring` out of the header
    /// (which rounds its bounds to Characters), cost a fifth of verifying the token.
    /// With `checkingSpaces` false, a space inside the token is left for the caller to find.
    static func bearerTokenRange(_ value: String, checkingSpaces: Bool = true) -> Range<Int>? {
        var value = value
        return value.withUTF8 { bytes -> Range<Int>? in
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
            return containsSpace(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[tokenStart..<tokenEnd]))) ? nil : tokenStart..<tokenEnd
        }
    }

    private static let bearerScheme: [UInt8] = Array("bearer".utf8)

    /// Whether `bytes` holds a space, eight bytes at a time: a token is a couple of hundred bytes.
    static func containsSpace(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let spaces: UInt64 = 0x2020_2020_2020_2020
        let low: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        var offset = 0
        while offset + 8 <= bytes.count {
            // A zero byte in `word ^ spaces` is a space; the classic test for a zero byte.
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) ^ spaces
            if (word &- low) & ~word & high != 0 { return true }
            offset += 8
        }
        while offset < bytes.count {
            if bytes[offset] == UInt8(ascii: " ") { return true }
            offset += 1
        }
        return false
    }

    // MARK: Refusals

    enum AuthenticationFailure: Error {
        case missingCredential
        case unsupportedScheme
        case ambiguousCredentials
        case ambiguousIdentity
        case invalidToken(TokenError)
        case identityMismatch(String)
        case missingIdentityHeaders
        case invalidIdentityHeaders
    }

    func unauthorized(_ failure: AuthenticationFailure) -> Refusal {
        let code: String
        let detail: String
        var bearerError: String? = "invalid_request"
        switch failure {
        case .missingCredential:
            code = "missing_credential"
            detail = "This endpoint needs a credential: send Authorization: Bearer <token> or X-Agent-Token."
            bearerError = nil
        case .unsupportedScheme:
            code = "unsupported_scheme"
            detail = "The Authorization header must use the Bearer scheme with a single token."
        case .ambiguousCredentials:
            code = "ambiguous_credentials"
            detail = "More than one credential was sent; send exactly one token."
        case .ambiguousIdentity:
            code = "ambiguous_identity"
            detail = "An X-Agent-* identity header was sent more than once."
        case .invalidToken(let error):
            bearerError = "invalid_token"
            switch error.code {
            case .expired:
                code = "token_expired"
                detail = "The token has expired."
            case .revoked:
                code = "token_revoked"
                detail = "The token has been revoked."
            case .notYetValid:
                code = "token_not_yet_valid"
                detail = "The token is not valid yet; check the clocks."
            default:
                // Malformed, unknown key, bad signature, wrong audience: one answer, so a client
                // learns nothing about which check failed.
                code = "invalid_token"
                detail = "The token is not valid."
            }
        case .identityMismatch(let header):
            bearerError = "invalid_token"
            code = "identity_mismatch"
            detail = "The \(header) header does not match the identity the token was minted for."
        case .missingIdentityHeaders:
            code = "missing_credential"
            detail = "Send a token, or in header-trust mode both X-Agent-ID and X-Agent-Role."
        case .invalidIdentityHeaders:
            code = "invalid_identity_headers"
            detail = "X-Agent-ID, X-Agent-Role and X-Agent-Team must be 1-128 characters of A-Z a-z 0-9 _ - (team may be empty)."
        }
        var challenge = "Bearer realm=\"\(configuration.realm)\""
        if let bearerError {
            challenge += ", error=\"\(bearerError)\""
        }
        return Refusal(
            status: 401, code: code, detail: detail, headers: [HeaderField(name: "WWW-Authenticate", value: challenge)]
        )
    }
}

/// A presented token: the header it came in and where in that header (UTF-8 offsets) it is.
struct TokenText {
    let header: String
    let range: Range<Int>
    /// Whether it came from `Authorization: Bearer`, where a space inside makes it malformed.
    let isBearer: Bool

    /// Whether this is a bearer token with a space inside (not a bearer credential at all).
    var isSpacedBearer: Bool {
        isBearer && withBytes { SecurityPipeline.containsSpace($0) }
    }

    /// Calls `body` with the token's bytes, read in place.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var header = header
        return header.withUTF8 { body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0[range]))) }
    }

    /// Whether the token is exactly `other`.
    func equals(_ other: String) -> Bool {
        var other = other
        return other.withUTF8 { otherBytes in withBytes { bytesEqual($0, UnsafeRawBufferPointer(otherBytes)) } }
    }

    /// The token as a `String`, for authenticators of other credentials.
    var string: String { String(slice(header[...], utf8: range)) }
}

/// The credential and identity headers of a request, found in one pass over the headers. It keeps
/// where each first one is, not its value: copying five optional strings in and out cost more than
/// the search.
struct CredentialHeaders {
    private let fields: [HeaderField]
    private var authorizationIndex: Int?
    private(set) var authorizationCount = 0
    private var tokenIndex: Int?
    private(set) var tokenCount = 0
    private var agentIndex: Int?
    private(set) var agentCount = 0
    private var roleIndex: Int?
    private(set) var roleCount = 0
    private var teamIndex: Int?
    private(set) var teamCount = 0

    var authorization: String? { authorizationIndex.map { fields[$0].value } }
    var token: String? { tokenIndex.map { fields[$0].value } }
    var agent: String? { agentIndex.map { fields[$0].value } }
    var role: String? { roleIndex.map { fields[$0].value } }
    var team: String? { teamIndex.map { fields[$0].value } }

    /// Whether header `name` is `lowercased` (written with lower-case ASCII letters), ignoring the
    /// case of `name`'s letters. One byte loop: this runs on every header of every request, and an
    /// exact comparison followed by the generic case-insensitive one cost twice as much.
    @inline(__always)
    static func named(_ name: String, _ lowercased: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
        var name = name
        return name.withUTF8 { bytes in
            guard bytes.count == expected.count else { return false }
            for index in 0..<bytes.count {
                let byte = bytes[index]
                let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                if lower != expected[index] { return false }
            }
            return true
        }
    }

    init(_ fields: [HeaderField]) {
        self.fields = fields
        for (index, field) in fields.enumerated() {
            let name = field.name
            switch name.utf8.count {
            case 13:
                if Self.named(name, "authorization") {
                    authorizationCount += 1
                    if authorizationIndex == nil { authorizationIndex = index }
                } else if Self.named(name, "x-agent-token") {
                    tokenCount += 1
                    if tokenIndex == nil { tokenIndex = index }
                }
            case 10:
                if Self.named(name, "x-agent-id") {
                    agentCount += 1
                    if agentIndex == nil { agentIndex = index }
                }
            case 12:
                if Self.named(name, "x-agent-role") {
                    roleCount += 1
                    if roleIndex == nil { roleIndex = index }
                } else if Self.named(name, "x-agent-team") {
                    teamCount += 1
                    if teamIndex == nil { teamIndex = index }
                }
            default:
                continue
            }
        }
    }
}
