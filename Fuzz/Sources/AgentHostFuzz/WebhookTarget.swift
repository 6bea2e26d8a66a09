import Crypto
import SecurityCore

/// Webhook verification (GitLab's shared token, GitHub's HMAC-SHA256 signature).
///
/// Properties: a delivery is accepted only with exactly one token equal to the secret (GitLab) or
/// one `sha256=` signature that swift-crypto's HMAC of the body confirms (GitHub), and exactly one
/// delivery id of the allowed shape, which is the id returned; a correctly signed delivery with a
/// valid id is always accepted; a refusal is 401 or 400 with a stable code.
enum WebhookTarget {
    static let secret = Array("fuzz-webhook-secret-0123456789".utf8)
    static let verifiers = WebhookVerifier.Provider.allCases.map { WebhookVerifier(provider: $0, secret: SecureBytes(copying: secret)) }

    static func run(_ input: inout FuzzInput) {
        let choice = input.byte()
        let verifier = verifiers[Int(choice & 1)]
        let gitlab = verifier.provider == .gitlab
        var headers = [HeaderField]()
        let names =
            gitlab
            ? ["X-Gitlab-Token", "X-Gitlab-Event-UUID", "X-Gitlab-Event", "x-gitlab-token", "X-GITLAB-EVENT-UUID", "Content-Type"]
            : ["X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event", "x-hub-signature-256", "X-GITHUB-DELIVERY", "Content-Type"]
        let body = input.chunk(until: 0)
        while true {
            let line = input.chunk(until: UInt8(ascii: "\n"))
            if line.isEmpty { break }
            headers.append(HeaderField(name: names[Int(line[0]) % names.count], value: Array(line.dropFirst()).text))
        }
        let signature =
            "sha256="
            + HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
            .map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        if choice & 2 != 0 {
            // A correct credential added: the rest decides.
            headers.append(HeaderField(name: names[0], value: gitlab ? secret.text : signature))
        }
        func values(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value) }
        let credentials = values(names[0])
        let ids = values(names[1])
        let authentic = credentials.count == 1 && (gitlab ? Array(credentials[0].utf8) == secret : credentials[0].lowercased() == signature)
        let validID =
            ids.count == 1 && (1...128).contains(ids[0].utf8.count)
            && ids[0].utf8.allSatisfy {
                $0 < 0x80 && (Character(UnicodeScalar($0)).isLetter || Character(UnicodeScalar($0)).isNumber || "-_.".utf8.contains($0))
            }
        switch verifier.verify(headers: headers, body: body) {
        case .success(let delivery):
            require(authentic, "accepted without the right credential")
            require(validID && delivery.id == ids[0], "accepted with the delivery id \(delivery.id)")
            require(delivery.provider == verifier.provider, "another provider")
        case .failure(let refusal):
            require(!(authentic && validID), "refused a correct delivery: \(refusal.problem.code)")
            require(
                (refusal.status == 401 && refusal.problem.code == "invalid_webhook_signature")
                    || (refusal.status == 400 && refusal.problem.code == "missing_delivery_id"),
                "refused with \(refusal.status) \(refusal.problem.code)"
            )
            if !authentic { require(refusal.status == 401, "a forged delivery was told more than 401") }
        }
    }
}
