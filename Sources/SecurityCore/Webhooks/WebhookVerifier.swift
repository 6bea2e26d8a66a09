public import HTTPTypes

/// Checks that a webhook delivery comes from the sender that knows the shared secret, in constant
/// time, before anything of it is believed.
///
/// - GitLab sends the secret itself in `X-Gitlab-Token` and a delivery id in `X-Gitlab-Event-UUID`.
/// - GitHub sends `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` and a delivery id
///   in `X-GitHub-Delivery`.
///
/// ```swift
/// let verifier = WebhookVerifier(provider: .github, secret: secret)
/// switch verifier.verify(fields: facts.fields, body: rawBody) {
/// case .success(let delivery): store(delivery.id, delivery.event)
/// case .failure(let refusal): respond(refusal)
/// }
/// ```
public struct WebhookVerifier: Sendable {
    /// Who sends the deliveries.
    public enum Provider: String, Sendable, Hashable, CaseIterable {
        case gitlab
        case github
    }

    /// What a verified delivery says about itself.
    public struct Delivery: Hashable, Sendable {
        public let provider: Provider
        /// The sender's delivery id: what replays are recognised by.
        public let id: String
        /// The event name (`Push Hook`, `push`, …), or empty.
        public let event: String
    }

    public let provider: Provider
    private let secret: SecureBytes
    private let key: HMACSHA256Key

    /// The longest delivery id accepted.
    public static let maximumIDLength = 128

    public init(provider: Provider, secret: SecureBytes) {
        self.provider = provider
        self.secret = secret
        self.key = HMACSHA256Key(secret)
    }

    /// The delivery, or the refusal: `401 invalid_webhook_signature` when the secret or signature
    /// is missing or wrong, `400 missing_delivery_id` when there is no usable delivery id. The
    /// signature is checked first, so nothing unauthenticated is looked at further.
    public func verify(fields: HTTPFields, body: [UInt8]) -> Result<Delivery, Refusal> {
        verify(body: body) { name in fields.compactMap { $0.name.canonicalName == name ? $0.value : nil } }
    }

    /// ``verify(fields:body:)`` for headers as plain name and value pairs.
    public func verify(headers: [HeaderField], body: [UInt8]) -> Result<Delivery, Refusal> {
        verify(body: body) { name in headers.compactMap { asciiCaseInsensitiveEquals($0.name, name) ? $0.value : nil } }
    }

    /// `values` gives every value of a header, by its name in lower case.
    private func verify(body: [UInt8], values: (String) -> [String]) -> Result<Delivery, Refusal> {
        let authentic: Bool
        let ids: [String]
        let events: [String]
        switch provider {
        case .gitlab:
            let tokens = values("x-gitlab-token")
            authentic = tokens.count == 1 && ConstantTime.equals(tokens[0].utf8, secret)
            ids = values("x-gitlab-event-uuid")
            events = values("x-gitlab-event")
        case .github:
            let signatures = values("x-hub-signature-256")
            if signatures.count == 1, signatures[0].hasPrefix("sha256="), let tag = Hex.decode(signatures[0].dropFirst(7)), tag.count == 32
            {
                authentic = key.isValidAuthenticationCode(tag, for: body)
            } else {
                authentic = false
            }
            ids = values("x-github-delivery")
            events = values("x-github-event")
        }
        guard authentic else {
            return .failure(
                Refusal(
                    status: 401, code: .invalidWebhookSignature,
                    detail: provider == .gitlab
                        ? "X-Gitlab-Token is missing or wrong." : "X-Hub-Signature-256 is missing or does not match the body."
                ))
        }
        guard ids.count == 1, Self.isDeliveryID(ids[0]) else {
            return .failure(
                Refusal(
                    status: 400, code: .missingDeliveryID,
                    detail: provider == .gitlab
                        ? "Send exactly one X-Gitlab-Event-UUID (1-128 of A-Z a-z 0-9 - _ .)."
                        : "Send exactly one X-GitHub-Delivery (1-128 of A-Z a-z 0-9 - _ .)."
                ))
        }
        let event = events.count == 1 ? String(events[0].prefix(128)) : ""
        return .success(Delivery(provider: provider, id: ids[0], event: event))
    }

    static func isDeliveryID(_ text: String) -> Bool {
        (1...maximumIDLength).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                    true
                default: false
                }
            }
    }
}

/// An accepted webhook delivery, as stored for consumers to read.
public struct WebhookDeliveryRecord: Hashable, Sendable {
    /// Increasing with every accepted delivery: consumers page with it.
    public let sequence: Int64
    public let provider: String
    public let id: String
    public let event: String
    /// When it was accepted, in Unix seconds.
    public let receivedAt: Int64
    /// The raw JSON body.
    public let body: String

    public init(sequence: Int64, provider: String, id: String, event: String, receivedAt: Int64, body: String) {
        self.sequence = sequence
        self.provider = provider
        self.id = id
        self.event = event
        self.receivedAt = receivedAt
        self.body = body
    }
}

/// Where accepted webhook deliveries are kept, so a replay is recognised also after a restart.
public protocol WebhookDeliveryStore: Sendable {
    /// Stores the delivery unless one with the same provider and id is kept; whether it was new.
    /// Kept ids are forgotten after `expiresAt`.
    func recordDelivery(provider: String, id: String, event: String, body: String, at now: Int64, expiresAt: Int64) async throws -> Bool
    /// Up to `limit` deliveries after `sequence`, oldest first.
    func deliveries(after sequence: Int64, limit: Int) async throws -> [WebhookDeliveryRecord]
    /// Forgets deliveries whose time is up; how many.
    func pruneDeliveries(now: Int64) async throws -> Int
}
