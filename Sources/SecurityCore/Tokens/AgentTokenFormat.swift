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
        append(claims.tokenID.withBytes { Array($0) })
        return body
    }

    /// The tag over `field(label) || body` under `key` (whose token MAC has the label absorbed).
    static func tag(body: UnsafeRawBufferPointer, key: TokenKey, into output: UnsafeMutableRawPointer) {
        key.tokenMAC.authenticate(into: output) { feeder in feeder.update(body) }
    }

    /// Encodes and signs `claims` with `key`.
    static func encode(_ claims: AgentTokenClaims, key: TokenKey) -> String {
        let body = body(for: claims)
        var signature = [UInt8](repeating: 0, count: HMACSHA256Key.tagByteCount)
        body.withUnsafeBytes { bodyBytes in
            signature.withUnsafeMutableBytes { tag(body: bodyBytes, key: key, into: $0.baseAddress!) }
        }
        return CredentialKind.agentToken.prefix + Base64URL.encode(body) + "." + Base64URL.encode(signature)
    }

    /// Parses `text`, finds its key in `keyring`, checks that it names `audience`, checks the tag
    /// in constant time and only then reads the claims into `claims`. Returns the error instead when
    /// any step fails (and leaves `claims` alone). Time and revocation are the verifier's job.
    ///
    /// The claims are a 120-byte value: handing them back through each closure as a `Result` cost
    /// more than parsing them, so they are written once, in place, and the steps are inlined.
    @inline(__always)
    static func authenticate(
        _ text: UnsafeRawBufferPointer, keyring: Keyring, audience: String, into claims: inout AgentTokenClaims?
    ) -> TokenError? {
        guard text.count <= maximumTextLength else {
            return TokenError(.malformed, "token is longer than \(maximumTextLength) characters")
        }
        guard text.count > prefix.count + 1 + tagTextLength, text[0] == UInt8(ascii: "a"), text[1] == UInt8(ascii: "h"),
            text[2] == UInt8(ascii: "1"), text[3] == UInt8(ascii: ".")
        else {
            return TokenError(.malformed, "not an agent token (expected the ah1. prefix)")
        }
        let tagStart = text.count - tagTextLength
        guard text[tagStart - 1] == UInt8(ascii: ".") else {
            return TokenError(.malformed, "token signature part is missing or has the wrong length")
        }
        let bodyText = UnsafeRawBufferPointer(rebasing: text[prefix.count..<(tagStart - 1)])
        let tagText = UnsafeRawBufferPointer(rebasing: text[tagStart...])
        guard let bodyLength = Base64URL.decodedLength(of: bodyText.count) else {
            return TokenError(.malformed, "token body is not valid base64url")
        }
        let tagLength = HMACSHA256Key.tagByteCount
        return withUnsafeTemporaryAllocation(byteCount: bodyLength + tagLength * 2, alignment: 16) { scratch in
            let body = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<bodyLength])
            let presented = UnsafeMutableRawBufferPointer(rebasing: scratch[bodyLength..<(bodyLength + tagLength)])
            let expected = UnsafeMutableRawBufferPointer(rebasing: scratch[(bodyLength + tagLength)...])
            guard Base64URL.decode(bodyText, into: body) else {
                return TokenError(.malformed, "token is not valid base64url")
            }
            var reader = FieldReader(bytes: UnsafeRawBufferPointer(body))
            guard let version = reader.next(), version.count == 1 else {
                return TokenError(.malformed, "token body has no version field")
            }
            guard version[0] == 1 else {
                return TokenError(.unsupportedVersion, "token version \(version[0]) is not supported")
            }
            guard let keyIDBytes = reader.next(), keyIDBytes.count >= 1, keyIDBytes.count <= KeyID.maximumLength else {
                return TokenError(.malformed, "token body has no key id")
            }
            guard let key = keyring.verificationKey(forIDBytes: keyIDBytes) else {
                return TokenError(.unknownKey, "token was signed by an unknown or retired key")
            }
            // The audience decides which verifier checks the token (an agent token's, a user
            // session's), so it is compared before the tag, never trusted: a token for another
            // audience is left to that audience's verifier, and its tag is computed once, there.
            var ahead = reader
            guard ahead.next() != nil, ahead.next() != nil, ahead.next() != nil, let audienceField = ahead.next() else {
                return TokenError(.malformed, "token body fields are invalid")
            }
            guard FieldReader.field(audienceField, equals: audience) else {
                return TokenError(.wrongAudience, "token was minted for another audience")
            }
            // Decoded only now: a token left to another audience's verifier is decoded there.
            guard Base64URL.decode(tagText, into: presented) else {
                return TokenError(.malformed, "token is not valid base64url")
            }
            tag(body: UnsafeRawBufferPointer(body), key: key, into: expected.baseAddress!)
            guard ConstantTime.equals(UnsafeRawBufferPointer(expected), UnsafeRawBufferPointer(presented)) else {
                return TokenError(.invalidSignature, "token signature does not match")
            }
            return readClaims(&reader, key: key, audience: audience, into: &claims)
        }
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
            tokenID: TokenID(bytes: tokenID)
        )
        return nil
    }
}

/// Walks length-prefixed fields; every accessor returns `nil` instead of reading past the end.
struct FieldReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func next() -> UnsafeRawBufferPointer? {
        guard bytes.count - offset >= 2 else { return nil }
        let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        let start = offset + 2
        guard bytes.count - start >= length else { return nil }
        offset = start + length
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
    }

    /// A field that follows the identifier rule, as a `String`.
    mutating func identifier(allowEmpty: Bool) -> String? {
        guard let field = next(), field.count <= IdentifierRule.maximumLength, allowEmpty || field.count > 0,
            field.allSatisfy(IdentifierRule.isAllowed)
        else { return nil }
        return String(decoding: field, as: UTF8.self)
    }

    /// Whether `field` holds exactly the UTF-8 bytes of `text` (not secret; an early exit is fine).
    static func field(_ field: UnsafeRawBufferPointer, equals text: String) -> Bool {
        field.elementsEqual(text.utf8)
    }

    mutating func int64() -> Int64? {
        guard let field = next(), field.count == 8 else { return nil }
        var value: UInt64 = 0
        for byte in field { value = value << 8 | UInt64(byte) }
        return Int64(bitPattern: value)
    }
}
