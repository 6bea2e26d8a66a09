import Foundation
import SecurityCore
import Testing

struct StreamScrubberTests {
    static let secret = "sk-ant-api03-Zx9_Qw8/Er7+Ty6"

    static func scrubber() -> StreamScrubber {
        StreamScrubber(secrets: [SecureBytes(copying: Array(secret.utf8))])
    }

    /// `text` through a scrubber in pieces cut at `cuts`, then finished.
    static func streamed(_ text: String, cuts: [Int]) -> String {
        var scrubber = scrubber()
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var start = 0
        for cut in cuts.sorted() + [bytes.count] where cut >= start {
            output += scrubber.scrub(bytes[start..<cut])
            start = cut
        }
        output += scrubber.finish()
        return String(decoding: output, as: UTF8.self)
    }

    static var forms: [String] {
        let data = Data(secret.utf8)
        let standard = data.base64EncodedString()
        let url = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return [
            secret, standard, standard.replacingOccurrences(of: "=", with: ""), url.replacingOccurrences(of: "=", with: ""),
            data.map { String(format: "%02x", $0) }.joined(), data.map { String(format: "%02X", $0) }.joined(),
            secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))!,
        ]
    }

    @Test(arguments: forms)
    func everyFormIsMaskedToItsOwnLength(form: String) {
        let text = #"{"echo":""# + form + #"","n":1}"#
        let masked = Self.streamed(text, cuts: [])
        #expect(masked == #"{"echo":""# + String(repeating: "*", count: form.utf8.count) + #"","n":1}"#)
    }

    /// Every place the secret can be cut, in every form: the output is the same as in one piece.
    @Test(arguments: forms)
    func aFormCutAnywhereIsStillMasked(form: String) {
        let text = "before " + form + " middle " + form + " after"
        let whole = Self.streamed(text, cuts: [])
        #expect(!whole.contains(form))
        for cut in 1..<text.utf8.count {
            #expect(Self.streamed(text, cuts: [cut]) == whole, "cut at \(cut)")
        }
        // One byte at a time.
        #expect(Self.streamed(text, cuts: Array(1..<text.utf8.count)) == whole)
    }

    /// Text that cannot begin the secret passes at once: an event is not held for the next one.
    @Test func textThatCannotBeginTheSecretIsNotHeldBack() {
        var scrubber = Self.scrubber()
        let event = Array("data: {\"delta\":\"hello\"}\n\n".utf8)
        #expect(scrubber.scrub(event) == event)
        // A tail that may begin the secret waits for the next piece, and is released by it.
        #expect(scrubber.scrub(Array("data: sk-an".utf8)) == Array("data: ".utf8))
        #expect(scrubber.scrub(Array("swer\n\n".utf8)) == Array("sk-answer\n\n".utf8))
        #expect(scrubber.scrub(Array("sk-ant-api".utf8)).isEmpty)
        #expect(scrubber.finish() == Array("sk-ant-api".utf8))
    }

    @Test func wholeValuesAndSeveralSecrets() {
        let other = "ghp_0123456789abcdefghijABCDEFGHIJ"
        let scrubber = StreamScrubber(secrets: [SecureBytes(copying: Array(Self.secret.utf8)), SecureBytes(copying: Array(other.utf8))])
        let value = "token " + other + ", key " + Self.secret
        let masked = String(decoding: scrubber.scrubbed(Array(value.utf8)), as: UTF8.self)
        #expect(
            masked == "token " + String(repeating: "*", count: other.count) + ", key " + String(repeating: "*", count: Self.secret.count))
        // The same as text: masked alike, and a value without a secret comes back as it was.
        #expect(scrubber.scrubbed(value) == masked)
        #expect(scrubber.scrubbed("application/json; charset=utf-8") == "application/json; charset=utf-8")
        #expect(scrubber.scrubbed("ünïcödé " + Self.secret) == "ünïcödé " + String(repeating: "*", count: Self.secret.count))
    }

    @Test func aShortSecretIsIgnoredAsTheRedactorIgnoresIt() {
        let scrubber = StreamScrubber(secrets: [SecureBytes(copying: Array("abc".utf8))])
        #expect(scrubber.isEmpty)
        #expect(scrubber.scrubbed(Array("abc abc".utf8)) == Array("abc abc".utf8))
    }

    /// Leftmost, longest masking over the whole text, one position at a time: what the scrubber
    /// must produce, however the text is cut.
    static func reference(_ text: [UInt8], forms: [[UInt8]]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < text.count {
            let match =
                forms.filter { index + $0.count <= text.count && Array(text[index..<(index + $0.count)]) == $0 }
                .map(\.count).max() ?? 0
            if match > 0 {
                output += repeatElement(UInt8(ascii: "*"), count: match)
                index += match
            } else {
                output.append(text[index])
                index += 1
            }
        }
        return output
    }

    /// Random texts made of the secret's own characters (so near misses abound) with forms of it
    /// dropped in, cut at random places: the scrubber agrees with the reference every time.
    @Test func randomTextsAgreeWithTheReference() {
        var generator = SystemRandomNumberGenerator()
        let forms = Self.forms.map { Array($0.utf8) }
        let alphabet = Array(Set(forms.joined()))
        for _ in 0..<300 {
            var text: [UInt8] = []
            while text.count < Int.random(in: 50...2000, using: &generator) {
                if Int.random(in: 0..<6, using: &generator) == 0 {
                    let form = forms.randomElement(using: &generator)!
                    // Sometimes only part of a form: a near miss.
                    text += Bool.random(using: &generator) ? form : Array(form.prefix(Int.random(in: 1..<form.count, using: &generator)))
                } else {
                    text.append(alphabet.randomElement(using: &generator)!)
                }
            }
            let cuts = (0..<Int.random(in: 0...6, using: &generator)).map { _ in Int.random(in: 0...text.count, using: &generator) }
            let streamed = Self.streamed(String(decoding: text, as: UTF8.self), cuts: cuts)
            #expect(Array(streamed.utf8) == Self.reference(text, forms: forms), "cuts \(cuts)")
            // As one whole value (a header's), and any prefix of it: the same answer.
            let prefix = Array(text.prefix(Int.random(in: 0...text.count, using: &generator)))
            #expect(Self.scrubber().scrubbed(prefix) == Self.reference(prefix, forms: forms))
        }
    }
}
