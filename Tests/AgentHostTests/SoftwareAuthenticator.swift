import Crypto
import Foundation
import SecurityCore

/// A passkey authenticator in software for the portal's passkey tests: an Ed25519 credential
/// (COSE EdDSA), attestation `none`, a signature counter it moves on each use, and the client
/// data a browser would write. Its output can be spoiled on purpose (another origin, no user
/// verification, a counter held back). Tests/Browser/passkeys.py does the same with Chromium's
/// virtual authenticator.
struct SoftwareAuthenticator {
    let relyingParty: String
    var origin: String
    let key = Curve25519.Signing.PrivateKey()
    let credentialID: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
    var counter: UInt32 = 0

    init(relyingParty: String, origin: String) {
        self.relyingParty = relyingParty
        self.origin = origin
    }

    var credentialIDText: String { Base64URL.encode(credentialID) }

    /// The credential's COSE_Key: {1: 1 (OKP), 3: -8 (EdDSA), -1: 6 (Ed25519), -2: x}.
    var coseKey: [UInt8] {
        [0xA4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21] + Self.bytes(Array(key.publicKey.rawRepresentation))
    }

    /// What `navigator.credentials.create` hands the page: clientDataJSON and the attestation
    /// object, base64url.
    mutating func register(challenge: String, userVerified: Bool = true) -> (clientDataJSON: String, attestationObject: String) {
        counter += 1
        let attested =
            [UInt8](repeating: 0, count: 16) + [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xFF)] + credentialID
            + coseKey
        let authenticatorData = header(flags: 0x41 | (userVerified ? 0x04 : 0)) + attested
        let object: [UInt8] =
            [0xA3] + Self.text("fmt") + Self.text("none") + Self.text("attStmt") + [0xA0] + Self.text("authData")
            + Self.bytes(authenticatorData)
        return (Base64URL.encode(clientData(type: "webauthn.create", challenge: challenge)), Base64URL.encode(object))
    }

    /// What `navigator.credentials.get` hands the page, base64url. `counter` replaces the
    /// authenticator's own (a copied key's); `userHandle` is what a discoverable credential returns.
    mutating func assert(challenge: String, userVerified: Bool = true, counter held: UInt32? = nil) -> [String: String] {
        if let held { counter = held } else { counter += 1 }
        let authenticatorData = header(flags: 0x01 | (userVerified ? 0x04 : 0))
        let client = clientData(type: "webauthn.get", challenge: challenge)
        let signed = authenticatorData + Array(Crypto.SHA256.hash(data: client))
        let signature = (try? key.signature(for: signed)).map { Array($0) } ?? []
        return [
            "id": credentialIDText, "clientDataJSON": Base64URL.encode(client), "authenticatorData": Base64URL.encode(authenticatorData),
            "signature": Base64URL.encode(signature),
        ]
    }

    private func header(flags: UInt8) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: Array(relyingParty.utf8))) + [flags]
            + [UInt8(counter >> 24), UInt8((counter >> 16) & 0xFF), UInt8((counter >> 8) & 0xFF), UInt8(counter & 0xFF)]
    }

    private func clientData(type: String, challenge: String) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(challenge)","origin":"\#(origin)","crossOrigin":false}"#.utf8)
    }

    /// CBOR: a byte string, and a text string (shorter than 256 bytes).
    private static func bytes(_ value: [UInt8]) -> [UInt8] { head(0x40, value.count) + value }
    private static func text(_ value: String) -> [UInt8] { head(0x60, value.utf8.count) + Array(value.utf8) }
    private static func head(_ major: UInt8, _ count: Int) -> [UInt8] {
        count < 24
            ? [major | UInt8(count)] : count < 256 ? [major | 24, UInt8(count)] : [major | 25, UInt8(count >> 8), UInt8(count & 0xFF)]
    }
}
