/// Time-based one-time passwords (RFC 6238): the second factor an authenticator app shows.
///
/// A code is HMAC(secret, the number of `period`-second steps since the epoch), truncated to
/// `digits` decimal digits (RFC 4226 §5.3). ``verify(_:at:after:)`` accepts the step before and the
/// step after the current one (one step of clock skew either way) and refuses a step at or before
/// the last one accepted, so a code is good once.
///
/// ```swift
/// let totp = try TOTP(secret: sealedSecretOpened)
/// if let step = totp.verify(typedCode, at: clock.now(), after: user.lastTOTPStep) {
///     user.lastTOTPStep = step        // store it with the sign-in, before answering
/// }
/// ```
public struct TOTP: Sendable {
    /// The shared secret. Redacted when printed.
    public let secret: SecureBytes
    /// The HMAC's hash.
    public let algorithm: HMACAlgorithm
    /// Digits in a code: 6 (what every app shows), 7 or 8.
    public let digits: Int
    /// Seconds per step.
    public let period: Int64

    /// Steps either side of the current one that are accepted.
    public static let skewSteps: Int64 = 1
    /// The shortest secret accepted: 128 bits (RFC 4226 §4 R6); new secrets have 160.
    public static let minimumSecretByteCount = 16

    /// Checks the parameters: a secret of at least 16 bytes, 6 to 8 digits, a period of 1 s to 1 h.
    public init(secret: SecureBytes, algorithm: HMACAlgorithm = .sha1, digits: Int = 6, period: Int64 = 30) throws(TOTPError) {
        guard secret.count >= Self.minimumSecretByteCount else {
            throw TOTPError(.weakSecret, "a TOTP secret needs at least \(Self.minimumSecretByteCount) bytes")
        }
        guard (6...8).contains(digits), (1...3600).contains(period) else {
            throw TOTPError(.invalidParameters, "a TOTP code has 6 to 8 digits and a period of 1 to 3600 seconds")
        }
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    /// A new random secret of 20 bytes (160 bits, the length RFC 4226 recommends for SHA-1).
    public static func generateSecret() -> SecureBytes {
        .random(count: 20)
    }

    /// The step `time` (seconds since the epoch, not negative) falls in.
    public func step(at time: Int64) -> Int64 {
        max(0, time) / period
    }

    /// The code for `step`, zero-padded to ``digits``.
    public func code(forStep step: Int64) -> String {
        let counter = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: step) >> UInt64(56 - 8 * $0)) }
        let tag = algorithm.authenticationCode(key: secret, message: counter)
        // Dynamic truncation: four bytes at the offset the last nibble gives, top bit cleared.
        let offset = Int(tag[tag.count - 1] & 0x0F)
        let value =
            (UInt32(tag[offset]) & 0x7F) << 24 | UInt32(tag[offset + 1]) << 16 | UInt32(tag[offset + 2]) << 8 | UInt32(tag[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let number = String(value % modulus)
        return String(repeating: "0", count: digits - number.count) + number
    }

    /// The code at `time`.
    public func code(at time: Int64) -> String {
        code(forStep: step(at: time))
    }

    /// The step `code` matches at `time`, one step of skew either way, or `nil`. A step at or
    /// before `lastStep` (the last one accepted for this secret) is refused: store the step this
    /// returns before the sign-in completes, and a code cannot be used twice. Every candidate is
    /// computed and compared in constant time, so the answer's timing does not say which matched.
    public func verify(_ code: String, at time: Int64, after lastStep: Int64?) -> Int64? {
        let presented = Array(code.utf8)
        guard presented.count == digits, presented.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        let current = step(at: time)
        var matched: Int64?
        for step in (current - Self.skewSteps)...(current + Self.skewSteps) where step >= 0 {
            let equal = ConstantTime.equals(Array(self.code(forStep: step).utf8), presented)
            if equal, matched == nil { matched = step }
        }
        guard let matched, lastStep.map({ matched > $0 }) ?? true else { return nil }
        return matched
    }

    /// The `otpauth://totp/…` URI an authenticator app reads (Google's key URI format): the label
    /// `issuer:account`, the secret in base32, and the parameters. It holds the secret: show it to
    /// the person enrolling, never log it.
    public func provisioningURI(issuer: String, account: String) -> String {
        let label = Self.percentEncoded(issuer) + ":" + Self.percentEncoded(account)
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(Self.percentEncoded(issuer))"
            + "&algorithm=\(algorithm.rawValue)&digits=\(digits)&period=\(period)"
    }

    /// `text` with everything but RFC 3986's unreserved characters percent-encoded.
    static func percentEncoded(_ text: String) -> String {
        var output = [UInt8]()
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(Array("0123456789ABCDEF".utf8)[Int(byte >> 4)])
                output.append(Array("0123456789ABCDEF".utf8)[Int(byte & 0xF)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}

extension TOTP: CustomStringConvertible {
    public var description: String { "TOTP(\(algorithm.rawValue), \(digits) digits, \(period) s)" }
}

/// Why a ``TOTP`` could not be made.
public struct TOTPError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case weakSecret = "totp_weak_secret"
            case invalidParameters = "totp_invalid_parameters"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The secret is shorter than ``TOTP/minimumSecretByteCount``.
        public static let weakSecret = Code(.weakSecret)
        /// Digits or period out of range.
        public static let invalidParameters = Code(.invalidParameters)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
