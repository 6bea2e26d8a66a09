/// One kind of credential, declared once: its prefix and shape, and the headers besides
/// `Authorization` and `X-Agent-Token` where it may be presented.
///
/// Everything that must know a kind reads it from here, never from a copy of its prefix:
/// - the pipeline hands a presented credential only to the ``Authenticator``s whose
///   ``Authenticator/kind`` has its prefix;
/// - ``SecretRedactor`` masks the kind's shape in logs;
/// - AgentHost's proxy derives from the authenticators' kinds the headers it never forwards, and
///   refuses a call whose path or query holds a credential of any kind (Docs/BROKERED.md).
///
/// The shape is the prefix followed by at least ``minimumBodyLength`` characters of base64url (and
/// `.`, when ``bodyAllowsDot``): narrow enough that ordinary text (`Noah1.2`) is not taken for one.
///
/// ```swift
/// extension CredentialKind {
///     static let partnerKey = CredentialKind(name: "partner-key", prefix: "pk_", minimumBodyLength: 32)
/// }
/// ```
public struct CredentialKind: Hashable, Sendable, CustomStringConvertible {
    /// A short name for logs and metrics (`agent-token`, `api-key`).
    public let name: String
    /// What every credential of the kind starts with (`ah1.`, `ahk_`); never empty.
    public let prefix: String
    /// How many characters at least follow the prefix in a credential of the kind.
    public let minimumBodyLength: Int
    /// Whether `.` may appear after the prefix (agent tokens and access keys have one).
    public let bodyAllowsDot: Bool
    /// Headers (lower case) besides `Authorization` and `X-Agent-Token` that carry this kind,
    /// such as `x-setup-token`: never forwarded by a proxy. The pipeline reads a credential from
    /// such a header only on the routes ``CredentialLocations`` names (the setup token's handler
    /// reads its own).
    public let headers: [String]
    /// The prefix's bytes, compared in place against a presented credential.
    let prefixBytes: [UInt8]

    /// A kind whose credentials start with `prefix`, which must not be empty (a kind without one
    /// could not be told apart, or found in a log, by its shape).
    public init(name: String, prefix: String, minimumBodyLength: Int, bodyAllowsDot: Bool = false, headers: [String] = []) {
        precondition(!prefix.isEmpty, "a credential kind needs a prefix")
        self.name = name
        self.prefix = prefix
        self.minimumBodyLength = max(1, minimumBodyLength)
        self.bodyAllowsDot = bodyAllowsDot
        self.headers = headers.map { $0.lowercased() }
        self.prefixBytes = Array(prefix.utf8)
    }

    public var description: String { name }

    /// Agent tokens (`ah1.…`), and the user sessions minted in their format under another audience.
    public static let agentToken = CredentialKind(name: "agent-token", prefix: "ah1.", minimumBodyLength: 40, bodyAllowsDot: true)
    /// API keys (`ahk_<id>.<secret>`).
    public static let apiKey = CredentialKind(name: "api-key", prefix: "ahk_", minimumBodyLength: 40, bodyAllowsDot: true)
    /// Device credentials (`ahd_<id>.<secret>`).
    public static let device = CredentialKind(name: "device", prefix: "ahd_", minimumBodyLength: 40, bodyAllowsDot: true)
    /// One-time setup tokens (`ahs_<id>.<secret>`), presented as `X-Setup-Token` to onboarding.
    public static let setupToken = CredentialKind(
        name: "setup-token", prefix: "ahs_", minimumBodyLength: 40, bodyAllowsDot: true, headers: ["x-setup-token"])

    /// Browser sessions (`ahb1.…`): the agent-token format under the browser audience, carried
    /// in the portal's session cookie (Docs/SIGN_IN.md). A proxy drops the cookie as it drops a
    /// header credential.
    public static let browserSession = CredentialKind(name: "browser-session", prefix: "ahb1.", minimumBodyLength: 40, bodyAllowsDot: true)

    /// AgentHost's own kinds.
    public static let builtIn: [CredentialKind] = [.agentToken, .apiKey, .device, .setupToken, .browserSession]

    /// Whether `bytes` start with the prefix.
    func isPrefix(of bytes: some Collection<UInt8>) -> Bool {
        bytes.starts(with: prefixBytes)
    }

    /// Where each credential of this shape starts and ends in `bytes`, as offsets.
    public func occurrences(in bytes: [UInt8]) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var index = 0
        let first = prefixBytes[0]
        while index + prefixBytes.count + minimumBodyLength <= bytes.count {
            guard bytes[index] == first, bytes[index...].starts(with: prefixBytes) else {
                index += 1
                continue
            }
            var end = index + prefixBytes.count
            while end < bytes.count, Self.isBodyByte(bytes[end], allowsDot: bodyAllowsDot) { end += 1 }
            if end - index - prefixBytes.count >= minimumBodyLength {
                found.append(index..<end)
                index = end
            } else {
                index += 1
            }
        }
        return found
    }

    /// Whether `text` holds a credential of this shape anywhere.
    public func occurs(in text: some StringProtocol) -> Bool {
        !occurrences(in: Array(text.utf8)).isEmpty
    }

    /// Whether `byte` may follow a prefix: base64url, and `.` when `allowsDot`.
    public static func isBodyByte(_ byte: UInt8, allowsDot: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        case UInt8(ascii: "."): allowsDot
        default: false
        }
    }
}

extension Sequence<CredentialKind> {
    /// Whether `text` holds a credential of any of these kinds.
    public func anyOccurs(in text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        return contains { !$0.occurrences(in: bytes).isEmpty }
    }
}
