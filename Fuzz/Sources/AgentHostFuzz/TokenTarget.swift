import Foundation
@testable import SecurityCore

/// Token text: base64url, and the agent token format (user sessions are the same format under
/// another audience).
///
/// Properties:
/// - base64url decoding agrees with Foundation's base64 on every input both read, and refuses only
///   what it documents: characters outside base64url, padding, and bits past the last byte (so no
///   two texts decode alike); whatever it decodes re-encodes to the same text.
/// - a token that authenticates re-encodes to exactly the text presented, so no two texts carry
///   the same claims. The first byte picks whether the rest is tried as typed, or as a token body
///   the harness signs with the test key (so the parser behind the signature check is reached).
enum TokenTarget {
    static let key = try! TokenKey(id: KeyID("k-fuzz"), secret: SecureBytes(copying: [UInt8](repeating: 0x5A, count: 32)), status: .primary)
    static let keyring = try! Keyring(keys: [key])
    static let audiences = ["agenthost", "agenthost-session"]

    static func run(_ input: inout FuzzInput) {
        let mode = input.byte()
        let bytes = input.rest()
        checkBase64URL(bytes)
        let text: [UInt8]
        if mode & 1 == 0 {
            text = bytes
        } else {
            let tag = AgentTokenFormat.tag(body: bytes[...], key: key)
            text = Array(("ah1." + Base64URL.encode(bytes) + "." + Base64URL.encode(tag)).utf8)
        }
        for audience in audiences {
            var claims: AgentTokenClaims?
            let error = AgentTokenFormat.authenticate(text[...], keyring: keyring, audience: audience, into: &claims)
            if error == nil {
                guard let claims else { return require(false, "authenticated without claims") }
                require(claims.audience == audience && claims.keyID == key.id, "claims name another audience or key")
                let again = AgentTokenFormat.encode(claims, key: key)
                require(Array(again.utf8) == text, "a token that verifies re-encodes differently: \(again)")
            } else {
                require(claims == nil, "claims written for a refused token")
            }
        }
        // The verifier over the same text: the same verdict on the signature and format.
        let verifier = TokenVerifier(keyring: keyring, policy: try! TokenPolicy(), clock: ManualTimeSource(1_800_000_000))
        if case .success(let claims) = verifier.check(text.text) {
            require(Array(AgentTokenFormat.encode(claims, key: key).utf8) == text, "a verified token re-encodes differently")
        }
    }

    static func checkBase64URL(_ bytes: [UInt8]) {
        let ours = Base64URL.decode(bytes.text)
        let valid = bytes.allSatisfy { $0 < 0x80 } ? ours : nil
        if let decoded = valid {
            require(Array(Base64URL.encode(decoded).utf8) == bytes, "decoded text does not re-encode to itself")
        }
        // Any bytes survive a round trip.
        require(Base64URL.decode(Base64URL.encode(bytes)) == bytes, "round trip lost bytes")

        // Foundation reads standard base64 with padding: translate, pad, and compare.
        let isURLAlphabet = bytes.allSatisfy { Base64URL.isAlphabet($0) }
        let standard = bytes.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "+") : $0 == UInt8(ascii: "_") ? UInt8(ascii: "/") : $0 }
        let padded = standard + [UInt8](repeating: UInt8(ascii: "="), count: (4 - standard.count % 4) % 4)
        let foundation = Data(base64Encoded: Data(padded)).map { Array($0) }
        if let valid {
            require(foundation == valid, "Foundation decodes \(bytes.text) to something else")
        } else if let foundation, isURLAlphabet {
            // Deliberate: Foundation ignores bits past the last byte; base64url here refuses them.
            require(Base64URL.encode(foundation) != bytes.text, "refused a canonical text Foundation reads")
        }
    }
}
