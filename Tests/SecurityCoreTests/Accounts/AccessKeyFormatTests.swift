import SecurityCore
import Testing

/// The text form of API keys, device secrets and setup tokens.
struct AccessKeyFormatTests {
    @Test(arguments: [AccessKeyRecord.Kind.apiKey, .device, .setup])
    func generatedCredentialsParseBack(kind: AccessKeyRecord.Kind) throws {
        let (id, secret) = AccessKeyFormat.generate(kind)
        let parsed = try #require(AccessKeyFormat.parse(id + "." + secret))
        #expect(parsed.kind == kind && parsed.id == id && parsed.secret == secret[...])
    }

    /// Only base64url either side of the dot: an id is logged, so it must not carry anything else.
    @Test func anythingButBase64URLIsRefused() {
        let id = "ahk_" + String(repeating: "A", count: 16), secret = String(repeating: "B", count: 43)
        #expect(AccessKeyFormat.parse(id + "." + secret) != nil)
        for bad in [
            "ahk_" + String(repeating: "A", count: 15) + " ." + secret, "ahk_" + String(repeating: "A", count: 15) + "\n." + secret,
            id + "." + String(repeating: "B", count: 42) + "=", id + "." + String(repeating: "B", count: 42) + ".",
            "ahx_" + String(repeating: "A", count: 16) + "." + secret, id + "." + secret + "B", id + secret + ".",
        ] {
            #expect(AccessKeyFormat.parse(bad) == nil, "\(bad)")
        }
    }
}
