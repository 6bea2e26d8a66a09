@testable import SecurityCore

/// API keys, device secrets and setup tokens (`ahk_…`, `ahd_…`, `ahs_…`).
///
/// Properties: what parses is the known prefix, then base64url of the exact lengths either side
/// of one dot, and reassembles to the text given; every freshly generated credential parses back
/// to its own kind, id and secret.
enum AccessKeyTarget {
    static func run(_ input: inout FuzzInput) {
        let kinds: [AccessKeyRecord.Kind] = [.apiKey, .device, .setup]
        let chosen = kinds[Int(input.byte()) % kinds.count]
        let bytes = input.rest()
        let text = bytes.text
        if let (kind, id, secret) = AccessKeyFormat.parse(text) {
            require(id + "." + secret == text, "parts do not reassemble to the text")
            require(id.hasPrefix(AccessKeyFormat.prefix(kind)), "id \(id) lacks its kind's prefix")
            require(id.utf8.count == AccessKeyFormat.idLength && secret.utf8.count == AccessKeyFormat.secretLength, "lengths")
            require(id.utf8.dropFirst(4).allSatisfy(Base64URL.isAlphabet) && secret.utf8.allSatisfy(Base64URL.isAlphabet), "alphabet")
        }
        let (id, secret) = AccessKeyFormat.generate(chosen)
        let parsed = AccessKeyFormat.parse(id + "." + secret)
        require(
            parsed?.kind == chosen && parsed?.id == id && parsed.map { String($0.secret) } == secret,
            "a generated credential does not parse")
    }
}
