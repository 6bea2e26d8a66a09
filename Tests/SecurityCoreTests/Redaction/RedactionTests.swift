import Foundation
import Logging
import SecurityCore
import Synchronization
import Testing

struct SecretRedactorTests {
    let secret = "s3cr3t-Provider-Key/+=?&é"

    @Test func aRegisteredSecretIsFoundInEveryEncoding() throws {
        let redactor = SecretRedactor()
        let bytes = Array(secret.utf8)
        redactor.register(SecureBytes(copying: bytes))
        let data = Data(bytes)
        let encodings = [
            secret,
            data.base64EncodedString(),
            data.base64EncodedString().replacingOccurrences(of: "=", with: ""),
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: ""),
            bytes.map { String(format: "%02x", $0) }.joined(),
            bytes.map { String(format: "%02X", $0) }.joined(),
            try #require(
                secret.addingPercentEncoding(
                    withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))
            ),
        ]
        for encoded in encodings {
            let line = "cloning with \(encoded) now"
            #expect(redactor.redact(line) == "cloning with [REDACTED] now", "\(encoded)")
        }
        #expect(redactor.redact("nothing to see, résumé") == "nothing to see, résumé")
    }

    @Test func knownTokenShapesAreRedactedWithoutRegistration() {
        let redactor = SecretRedactor()
        let cases = [
            ("token ghp_abcdefghijklmnopqrstuvwxyz012345 end", "token ghp_[REDACTED] end"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_[REDACTED]"),
            ("ghs_abcdefghijklmnopqrstuv", "ghs_[REDACTED]"),
            (
                "url https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.example/x.git",
                "url https://oauth2:glpat-[REDACTED]@gitlab.example/x.git"
            ),
            ("key=sk-ant-api03-abcdefghijklmnop", "key=sk-ant-[REDACTED]"),
            ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [REDACTED]"),
            ("authorization: bearer   abc", "authorization: bearer   [REDACTED]"),
            ("ah1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBB ok", "ah1.[REDACTED] ok"),
            ("ahk_abcdefghijklmnop.0123456789012345678901234567890123456789012", "ahk_[REDACTED]"),
            ("ghp_short", "ghp_short"),
            ("the ghost of ghp", "the ghost of ghp"),
        ]
        for (text, expected) in cases {
            #expect(redactor.redact(text) == expected, "\(text)")
        }
    }

    @Test func shortSecretsAreNotRegisteredAndOldOnesAreForgotten() {
        let redactor = SecretRedactor(capacity: 2)
        redactor.register(SecureBytes(copying: Array("short".utf8)))
        #expect(redactor.count == 0 && redactor.redact("a short word") == "a short word")
        for word in ["first-secret-1", "second-secret-2", "third-secret-3"] { redactor.register(SecureBytes(copying: Array(word.utf8))) }
        redactor.register(SecureBytes(copying: Array("third-secret-3".utf8)))  // again: kept once
        #expect(redactor.count == 2)
        #expect(redactor.redact("first-secret-1 second-secret-2 third-secret-3") == "first-secret-1 [REDACTED] [REDACTED]")
    }

    /// What is left around a replaced secret can spell it again with the marker's own characters:
    /// the output is scanned until nothing remains.
    @Test func aSecretSpelledByTheMarkerAndWhatFollowsIsRedactedToo() {
        let redactor = SecretRedactor()
        let secret = "D]AAAAAA"
        redactor.register(SecureBytes(copying: Array(secret.utf8)))
        let redacted = redactor.redact("D]AAAAAAAAAAAAAA")
        #expect(!redacted.contains(secret), "\(redacted)")
        #expect(redacted.contains(SecretRedactor.marker))
        // A secret the marker itself spells: the text ends as a placeholder too short to hold one.
        let marker = SecretRedactor()
        marker.register(SecureBytes(copying: Array("REDACTED".utf8)))
        #expect(marker.redact("user REDACTED logged in") == SecretRedactor.redactedText)
        // Text that keeps producing the secret ends up without it too.
        let looping = SecretRedactor()
        looping.register(SecureBytes(copying: Array("ED]ED]ED]".utf8)))
        #expect(!looping.redact("[RED" + String(repeating: "ED]", count: 12)).contains("ED]ED]ED]"))
    }

    @Test func overlappingSecretsAreCoveredWhole() {
        let redactor = SecretRedactor()
        redactor.register(SecureBytes(copying: Array("abcdefgh1234".utf8)))
        redactor.register(SecureBytes(copying: Array("1234wxyz5678".utf8)))
        #expect(redactor.redact("<abcdefgh1234wxyz5678>") == "<[REDACTED][REDACTED]>")
    }
}

/// Collects what reaches it.
struct CapturingHandler: LogHandler {
    final class Box: Sendable {
        let events = Mutex<[LogEvent]>([])
    }

    let box: Box
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        var merged = metadata
        if let own = event.metadata { merged.merge(own) { $1 } }
        event.metadata = merged
        box.events.withLock { $0.append(event) }
    }
}

struct RedactingLogHandlerTests {
    struct Carrier: CustomStringConvertible, Sendable {
        let value: String
        var description: String { "Carrier(\(value))" }
    }

    struct Failure: Error, CustomStringConvertible {
        let detail: String
        var description: String { "failed with \(detail)" }
    }

    @Test func nestedSecretsInMessagesMetadataAndErrorsComeOutRedacted() throws {
        let box = CapturingHandler.Box()
        let redactor = SecretRedactor()
        let secret = "vault-secret-0123456789"
        redactor.register(SecureBytes(copying: Array(secret.utf8)))
        let encoded = Data(secret.utf8).base64EncodedString()
        var logger = Logger(label: "test") { _ in RedactingLogHandler(wrapping: CapturingHandler(box: box), redactor: redactor) }
        logger[metadataKey: "context"] = .string("set with \(secret)")
        logger.notice(
            "using \(secret)",
            metadata: [
                "nested": .dictionary(["deeper": .array([.string("x"), .string("Basic \(encoded)")])]),
                "convertible": .stringConvertible(Carrier(value: secret)),
                "token": .string("ghp_abcdefghijklmnopqrstuvwxyz012345"),
            ]
        )
        logger.error("clone failed", error: Failure(detail: secret))
        let events = box.events.withLock { $0 }
        #expect(events.count == 2)
        let text = events.map { "\($0.message) \($0.metadata ?? [:]) \($0.error.map { "\($0)" } ?? "")" }.joined(separator: "\n")
        #expect(!text.contains(secret) && !text.contains(encoded) && !text.contains("abcdefghijklmnopqrstuvwxyz012345"), "\(text)")
        #expect(events[0].message.description == "using [REDACTED]")
        #expect(text.contains("Carrier([REDACTED])") && text.contains("failed with [REDACTED]") && text.contains("set with [REDACTED]"))
    }
}
