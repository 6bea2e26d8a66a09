import Foundation
import SecurityCore

/// `SecretRedactor`.
///
/// Properties: after redaction, no registered secret of 8 bytes or more is left in the text in any
/// form the redactor promises (raw, base64 with and without padding, base64url, hex in either
/// case), whatever surrounds it; text with no secret and no token shape comes back unchanged.
enum RedactorTarget {
    static func run(_ input: inout FuzzInput) {
        let redactor = SecretRedactor()
        var secrets = [[UInt8]]()
        for _ in 0..<Int(input.byte() % 4) {
            let secret = input.chunk(until: 0)
            redactor.register(SecureBytes(copying: secret))
            if secret.count >= SecretRedactor.minimumLength { secrets.append(secret) }
        }
        let text = input.rest().text
        let redacted = Array(redactor.redact(text).utf8)
        for secret in secrets {
            for form in forms(of: secret) where !form.isEmpty {
                require(!redacted.contains(bytes: form), "a secret survived in \(redacted.text)")
            }
        }
        if secrets.isEmpty, !redacted.contains(bytes: Array(SecretRedactor.marker.utf8)) {
            require(redacted == Array(text.utf8), "text without secrets changed")
        }
    }

    /// Forms computed with Foundation, independently of the redactor.
    static func forms(of secret: [UInt8]) -> [[UInt8]] {
        let standard = Data(secret).base64EncodedString()
        let unpadded = standard.replacingOccurrences(of: "=", with: "")
        let url = unpadded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let lower = secret.map { String(format: "%02x", $0) }.joined()
        // A raw secret that is not UTF-8 cannot appear in a String as itself.
        let raw = String(validating: secret, as: UTF8.self) != nil ? secret : []
        return [raw, Array(standard.utf8), Array(unpadded.utf8), Array(url.utf8), Array(lower.utf8), Array(lower.uppercased().utf8)]
    }
}
