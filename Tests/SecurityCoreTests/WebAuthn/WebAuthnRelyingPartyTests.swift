import Foundation
import SecurityCore
import Testing

/// The relying party's verification steps against registrations and assertions made and checked
/// by python-fido2 and py_webauthn (Vectors/webauthn), one per key type, and each way a ceremony
/// is refused.
struct WebAuthnRelyingPartyTests {
    struct Vector: Decodable, CustomTestStringConvertible {
        struct Registration: Decodable {
            let challenge: String
            let client_data_json: String
            let attestation_object: String
        }
        struct Assertion: Decodable {
            let challenge: String
            let client_data_json: String
            let authenticator_data: String
            let signature: String
            let sign_count: UInt32
        }
        let name: String
        let rp_id: String
        let origin: String
        let credential_id: String
        let public_key: String
        let registration: Registration
        let assertion: Assertion
        var testDescription: String { name }
    }

    struct File: Decodable { let vectors: [Vector] }

    static let vectors: [Vector] = {
        guard let url = Bundle.module.url(forResource: "webauthn_vectors", withExtension: "json", subdirectory: "Vectors/webauthn"),
            let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data)
        else { return [] }
        return file.vectors
    }()

    static func bytes(_ text: String) -> [UInt8] { Base64URL.decode(text) ?? [] }

    func party(_ vector: Vector, id: String? = nil, origin: String? = nil) -> WebAuthnRelyingParty {
        WebAuthnRelyingParty(id: id ?? vector.rp_id, origins: [origin ?? vector.origin])
    }

    func register(_ vector: Vector, party: WebAuthnRelyingParty? = nil, challenge: [UInt8]? = nil, attestation: [UInt8]? = nil)
        throws(WebAuthnError) -> WebAuthnRelyingParty.Credential
    {
        try (party ?? self.party(vector)).verifyRegistration(
            clientDataJSON: Self.bytes(vector.registration.client_data_json),
            attestationObject: attestation ?? Self.bytes(vector.registration.attestation_object),
            challenge: challenge ?? Self.bytes(vector.registration.challenge), requireUserVerification: true)
    }

    func assert(
        _ vector: Vector, party: WebAuthnRelyingParty? = nil, clientData: [UInt8]? = nil, data: [UInt8]? = nil, signature: [UInt8]? = nil,
        stored: UInt32 = 0
    ) throws(WebAuthnError) -> WebAuthnRelyingParty.Assertion {
        try (party ?? self.party(vector)).verifyAssertion(
            clientDataJSON: clientData ?? Self.bytes(vector.assertion.client_data_json),
            authenticatorData: data ?? Self.bytes(vector.assertion.authenticator_data),
            signature: signature ?? Self.bytes(vector.assertion.signature), challenge: Self.bytes(vector.assertion.challenge),
            publicKey: Self.bytes(vector.public_key), storedSignCount: stored, requireUserVerification: true)
    }

    func expect(_ code: WebAuthnError.Code, _ vector: Vector, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(vector.name): expected \(code)")
        } catch {
            #expect((error as? WebAuthnError)?.code == code, "\(vector.name): \(error)")
        }
    }

    @Test func thereIsAVectorPerKeyType() {
        #expect(Self.vectors.map(\.name) == ["ES256", "EdDSA", "RS256"])
    }

    @Test(arguments: vectors)
    func aRegistrationAndAnAssertionVerify(vector: Vector) throws {
        let credential = try register(vector)
        #expect(credential.id == Self.bytes(vector.credential_id))
        #expect(credential.publicKey == Self.bytes(vector.public_key))
        #expect(credential.algorithm == ["ES256": -7, "EdDSA": -8, "RS256": -257][vector.name])
        #expect(credential.signCount == 0 && credential.userVerified)
        let assertion = try assert(vector)
        #expect(assertion.signCount == vector.assertion.sign_count && assertion.userVerified)
    }

    @Test(arguments: vectors)
    func aReplayedAssertionAnotherOriginAndAnotherSiteAreRefused(vector: Vector) {
        // The counter did not go up: the same assertion again, or a copied key.
        expect(.counterNotIncreased, vector) { _ = try assert(vector, stored: vector.assertion.sign_count) }
        expect(.wrongOrigin, vector) { _ = try assert(vector, party: party(vector, origin: "https://evil.example.com")) }
        expect(.wrongOrigin, vector) { _ = try register(vector, party: party(vector, origin: "https://app.example.com:8443")) }
        expect(.wrongRelyingParty, vector) { _ = try assert(vector, party: party(vector, id: "evil.example.com")) }
        expect(.wrongChallenge, vector) { _ = try register(vector, challenge: [UInt8](repeating: 7, count: 32)) }
        // A registration's client data is not an assertion's.
        expect(.wrongType, vector) { _ = try assert(vector, clientData: Self.bytes(vector.registration.client_data_json)) }
    }

    @Test(arguments: vectors)
    func aChangedByteIsRefused(vector: Vector) {
        var signature = Self.bytes(vector.assertion.signature)
        signature[signature.count / 2] ^= 0x01
        expect(.invalidSignature, vector) { _ = try assert(vector, signature: signature) }
        var data = Self.bytes(vector.assertion.authenticator_data)
        data[36] ^= 0x01  // the counter: signed, so the signature fails
        expect(.invalidSignature, vector) { _ = try assert(vector, data: data) }
        data = Self.bytes(vector.assertion.authenticator_data)
        data[32] &= ~0x04  // no user verification where it is required
        expect(.userNotVerified, vector) { _ = try assert(vector, data: data) }
        data[32] &= ~0x01  // nor presence
        expect(.userNotPresent, vector) { _ = try assert(vector, data: data) }
        let clientData = Array(
            String(decoding: Self.bytes(vector.assertion.client_data_json), as: UTF8.self)
                .replacingOccurrences(of: #""crossOrigin":false"#, with: #""crossOrigin":true"#).utf8)
        expect(.wrongOrigin, vector) { _ = try assert(vector, clientData: clientData) }
        // Another attestation format than none ("none" becomes "noNe").
        var attestation = Self.bytes(vector.registration.attestation_object)
        if let at = attestation.indices.first(where: {
            Array(attestation[$0..<min($0 + 5, attestation.count)]) == [0x64] + Array("none".utf8)
        }) {
            attestation[at + 3] = UInt8(ascii: "N")
        }
        expect(.unsupportedAttestation, vector) { _ = try register(vector, attestation: attestation) }
        expect(.malformedCBOR, vector) {
            _ = try register(vector, attestation: Array(Self.bytes(vector.registration.attestation_object).dropLast()))
        }
    }

    @Test func authenticatorDataMustMatchItsFlags() {
        let hash = SecureHash.sha256(Array("example.com".utf8))
        #expect(throws: WebAuthnError.self) { try AuthenticatorData(hash + [0x01, 0, 0, 0]) }  // 36 bytes
        #expect(throws: WebAuthnError.self) { try AuthenticatorData(hash + [0x41, 0, 0, 0, 1]) }  // AT with nothing after
        #expect(throws: WebAuthnError.self) { try AuthenticatorData(hash + [0x01, 0, 0, 0, 1, 0xA0]) }  // bytes left over
        #expect(throws: WebAuthnError.self) { try AuthenticatorData(hash + [0x81, 0, 0, 0, 1, 0x80]) }  // extensions not a map
        #expect(throws: Never.self) { try AuthenticatorData(hash + [0x81, 0, 0, 0, 1, 0xA0]) }
    }
}
