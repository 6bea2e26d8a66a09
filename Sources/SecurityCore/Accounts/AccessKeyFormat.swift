/// The text form of API keys, device credentials and setup tokens:
/// `<prefix><16 base64url characters>.<43 base64url characters>`, the part before the dot being
/// the public id (`ahk_…` for API keys, `ahd_…` for devices, `ahs_…` for setup tokens) and the
/// part after it 32 random bytes.
///
/// Only a digest of the secret is stored: HMAC-SHA256 under the server's pepper over the label
/// `agenthost/access-key/v1`, the id and the secret, each length-prefixed. A copy of the database
/// alone lets nobody test guesses; the pepper lives sealed in the vault.
///
/// Package access: AgentHost issues and checks these; embedders see only the ``AccessKeyRecord``s.
package enum AccessKeyFormat {
    package static let label: [UInt8] = Array("agenthost/access-key/v1".utf8)
    package static let idRandomByteCount = 12
    package static let secretByteCount = 32
    /// The id's length: a 4-character prefix and 16 base64url characters.
    package static let idLength = 4 + Base64URL.encodedLength(of: idRandomByteCount)
    package static let secretLength = Base64URL.encodedLength(of: secretByteCount)

    /// The credential kind that declares `kind`'s prefix and shape.
    package static func credentialKind(of kind: AccessKeyRecord.Kind) -> CredentialKind {
        switch kind {
        case .apiKey: .apiKey
        case .device: .device
        case .setup: .setupToken
        }
    }

    package static func prefix(_ kind: AccessKeyRecord.Kind) -> String { credentialKind(of: kind).prefix }

    /// A fresh id and secret for `kind`.
    package static func generate(_ kind: AccessKeyRecord.Kind) -> (id: String, secret: String) {
        let id = prefix(kind) + SecureBytes.random(count: idRandomByteCount).base64URLEncoded()
        let secret = SecureBytes.random(count: secretByteCount).base64URLEncoded()
        return (id, secret)
    }

    /// The kind, id and secret of `text`, or `nil` when it does not have the shape of one: a known
    /// prefix, then only base64url characters of the right lengths either side of the one dot. A
    /// credential that passes can be logged by its id without carrying anything else into a log.
    package static func parse(_ text: String) -> (kind: AccessKeyRecord.Kind, id: String, secret: Substring)? {
        let utf8 = text.utf8
        guard utf8.count == idLength + 1 + secretLength,
            let dot = utf8.firstIndex(of: UInt8(ascii: ".")), utf8.distance(from: utf8.startIndex, to: dot) == idLength
        else { return nil }
        for (offset, byte) in utf8.enumerated() where offset >= 4 && offset != idLength {
            guard Base64URL.isAlphabet(byte) else { return nil }
        }
        guard let kind = AccessKeyRecord.Kind.allCases.first(where: { text.hasPrefix(prefix($0)) }) else { return nil }
        return (kind, String(text[..<dot]), text[text.index(after: dot)...])
    }

    /// The digest stored for `id` and `secret`.
    package static func digest(pepper: HMACSHA256Key, id: String, secret: some StringProtocol) -> [UInt8] {
        var message = [UInt8]()
        message.reserveCapacity(label.count + idLength + secretLength + 8)
        for part in [label, Array(id.utf8), Array(secret.utf8)] {
            message.append(UInt8(part.count >> 8))
            message.append(UInt8(part.count & 0xFF))
            message.append(contentsOf: part)
        }
        defer { SecureBytes.wipe(&message) }
        return pepper.authenticationCode(for: message)
    }
}
