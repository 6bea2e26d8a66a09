/// The byte format of agent tokens, version 1 (Docs/TOKENS.md is the specification).
///
/// Text: `ah1.` base64url(body) `.` base64url(tag), at most 1024 characters.
/// Body: nine fields in fixed order, each a 2-byte big-endian length and that many bytes:
/// version (1 byte, 0x01), key id, agent id, role, team, audience, issued-at (8-byte big-endian
/// signed seconds), expires-at (same), token id (16 bytes).
/// Tag: HMAC-SHA256(key, field(label) || body) with label `agenthost/agent-token/v1`, all 32 bytes.
///
/// Because every field carries its length, no two different claim sets produce the same bytes,
/// whatever characters they contain.
enum AgentTokenFormat {
    static let prefix: [UInt8] = CredentialKind.agentToken.prefixBytes
    static let label = "agenthost/agent-token/v1"
    static let maximumTextLength = 1024
    static let tagTextLength = Base64URL.encodedLength(of: HMACSHA256Key.tagByteCount)

    /// `field(label)`: the domain-separation label as the first length-prefixed field.
    static let labelField: [UInt8] = field(Array(label.utf8))

    static func field(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    /// The body bytes for `claims`.
    static func body(for claims: AgentTokenClaims) -> [UInt8] {
        var body = [UInt8]()
        body.reserveCapacity(160)
        func append(_ bytes: [UInt8]) {
            body.append(UInt8(bytes.count >> 8))
            body.append(UInt8(bytes.count & 0xFF))
            body.append(contentsOf: bytes)
        }
        func bigEndian(_ value: Int64) -> [UInt8] {
            (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> UInt64($0 * 8)) }
        }
        append([claims.version])
        append(Array(claims.keyID.rawValue.utf8))
        append(Array(claims.agent.rawValue.utf8))
        append(Array(claims.role.rawValue.utf8))
        append(Array(claims.team.rawValue.utf8))
        append(Array(claims.audience.utf8))
        append(bigEndian(claims.issuedAt))
        append(bigEndian(claims.expiresAt))
        append(claims.tokenID.bytes)
        return body
    }

    /// The tag over `field(label) || body` under `key` (whose token MAC has the label absorbed).
    static func tag(body: ArraySlice<UInt8>, key: TokenKey) -> [UInt8] {
        key.tokenMAC.authenticationCode(for: body)
    }

    /// Encodes and signs `claims` with `key`, after the prefix of `kind`.
    static func encode(_ claims: AgentTokenClaims, key: TokenKey, kind: CredentialKind = .agentToken) -> String {
        let body = body(for: claims)
        return kind.prefix + Base64URL.encode(body) + "." + Base64URL.encode(tag(body: body[...], key: key))
    }

    /// Parses `text`, finds its key in `keyring`, checks that it names `audience`, checks the tag
    /// in constant time and only then reads the claims into `claims`. Returns the error instead when
    /// any step fails (and leaves `claims` alone). Time and revocation are the verifier's job.
    ///
    /// The claims are a 120-byte value: handing them back through each closure as a `Result` cost
    /// more than parsing them, so they are written once, in place, and the steps are inlined.
    /// The body and the presented tag are decoded into one array, `scratch`; the fields are ranges
    /// of it.
    @inline(__always)
    static func authenticate(
        _ text: ArraySlice<UInt8>, keyring: Keyring, audience: String, prefix: [UInt8] = prefix, into claims: inout AgentTokenClaims?
    ) -> TokenError? {
        guard text.count <= maximumTextLength else {
            return TokenError(.malformed, "token is longer than \(maximumTextLength) characters")
        }
        guard text.count > prefix.count + 1 + tagTextLength, text.starts(with: prefix) else {
            return TokenError(.malformed, "not a token of this kind (its prefix is not \(String(decoding: prefix, as: UTF8.self)))")
        }
        let tagStart = text.endIndex - tagTextLength
        guard text[tagStart - 1] == UInt8(ascii: ".") else {
            return TokenError(.malformed, "token signature part is missing or has the wrong length")
        }
        let bodyText = (text.startIndex + prefix.count)..<(tagStart - 1)
        guard let bodyLength = Base64URL.decodedLength(of: bodyText.count) else {
            return TokenError(.malformed, "token body is not valid base64url")
        }
        let tagLength = HMACSHA256Key.tagByteCount
        // Both decoded before the reader takes the array: a write after that would copy it.
        var scratch = [UInt8](repeating: 0, count: bodyLength + tagLength)
        guard Base64URL.decode(text[bodyText], into: &scratch, at: 0), Base64URL.decode(text[tagStart...], into: &scratch, at: bodyLength)
        else {
            return TokenError(.malformed, "token is not valid base64url")
        }
        var reader = FieldReader(bytes: scratch, end: bodyLength)
        guard let version = reader.next(), version.count == 1 else {
            return TokenError(.malformed, "token body has no version field")
        }
        guard scratch[version.lowerBound] == 1 else {
            return TokenError(.unsupportedVersion, "token version \(scratch[version.lowerBound]) is not supported")
        }
        guard let keyIDBytes = reader.next(), keyIDBytes.count >= 1, keyIDBytes.count <= KeyID.maximumLength else {
            return TokenError(.malformed, "token body has no key id")
        }
        guard let key = keyring.verificationKey(forIDBytes: scratch[keyIDBytes]) else {
            return TokenError(.unknownKey, "token was signed by an unknown or retired key")
        }
        // The audience decides which verifier checks the token (an agent token's, a user
        // session's), so it is compared before the tag, never trusted: a token for another
        // audience is left to that audience's verifier, and its tag is computed once, there.
        var ahead = reader
        guard ahead.next() != nil, ahead.next() != nil, ahead.next() != nil, let audienceField = ahead.next() else {
            return TokenError(.malformed, "token body fields are invalid")
        }
        guard scratch[audienceField].elementsEqual(audience.utf8) else {
            return TokenError(.wrongAudience, "token was minted for another audience")
        }
        let expected = tag(body: scratch[..<bodyLength], key: key)
        guard ConstantTime.equals(expected, scratch[bodyLength...]) else {
            return TokenError(.invalidSignature, "token signature does not match")
        }
        return readClaims(&reader, key: key, audience: audience, into: &claims)
    }

    /// Reads the fields after the key id from an authenticated body whose audience field was
    /// already found to be `audience` (the expected `String` is reused).
    @inline(__always)
    private static func readClaims(
        _ reader: inout FieldReader, key: TokenKey, audience: String, into claims: inout AgentTokenClaims?
    ) -> TokenError? {
        guard let agent = reader.identifier(allowEmpty: false),
            let role = reader.identifier(allowEmpty: false),
            let team = reader.identifier(allowEmpty: true),
            reader.next() != nil
        else {
            return TokenError(.malformed, "token body fields are invalid")
        }
        guard let issuedAt = reader.int64(),
            let expiresAt = reader.int64(),
            let tokenID = reader.next(), tokenID.count == TokenID.byteCount,
            reader.isAtEnd
        else {
            return TokenError(.malformed, "token body fields are invalid")
        }
        claims = AgentTokenClaims(
            version: 1, keyID: key.id, agent: AgentID(unchecked: agent), role: Role(unchecked: role),
            team: Team(unchecked: team), audience: audience, issuedAt: issuedAt, expiresAt: expiresAt,
            tokenID: TokenID(bytes: reader.bytes[tokenID])
        )
        return nil
    }
}

/// Walks length-prefixed fields of `bytes[..<end]`; every accessor returns `nil` instead of reading
/// past the end. A field is the range of `bytes` it covers.
struct FieldReader {
    let bytes: [UInt8]
    let end: Int
    var offset = 0

    var isAtEnd: Bool { offset == end }

    mutating func next() -> Range<Int>? {
        guard end - offset >= 2 else { return nil }
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        let start = offset + 2
        guard end - start >= length else { return nil }
        offset = start + length
        return start..<(start + length)
    }

    /// A field that follows the identifier rule, as a `String`.
    mutating func identifier(allowEmpty: Bool) -> String? {
        guard let field = next(), field.count <= IdentifierRule.maximumLength, allowEmpty || field.count > 0,
            bytes[field].allSatisfy(IdentifierRule.isAllowed)
        else { return nil }
        return String(decoding: bytes[field], as: UTF8.self)
    }

    mutating func int64() -> Int64? {
        guard let field = next(), field.count == 8 else { return nil }
        var value: UInt64 = 0
        for byte in bytes[field] { value = value << 8 | UInt64(byte) }
        return Int64(bitPattern: value)
    }
}
