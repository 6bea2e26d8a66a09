@testable import SecurityCore
import Testing

struct Base64URLTests {
    @Test func roundTripsEveryLength() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(text.count == Base64URL.encodedLength(of: length))
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
    }

    @Test func knownValues() {
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
    }

    @Test(arguments: [
        "Zg==", "Zg=", "+/8", "a", "abcde", "Zh", "Zk", "Zo", "Zm9", "Zm9vYk", "Zm9vYmF", "Zm9vYmG", "Zm9v YmFy", "é", "Zm9v\0",
    ])
    func rejectsNonCanonicalText(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test func aCharacterOutsideTheAlphabetAnywhereIsRefused() {
        // 100 bytes: 134 characters, decoded eight, then four, then two at a time.
        let text = Array(Base64URL.encode((0..<100).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 5) }).utf8)
        for position in text.indices {
            for bad in [UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "."), 0x00, 0x7F, 0xFF] {
                var corrupted = text
                corrupted[position] = bad
                #expect(Base64URL.decode(String(decoding: corrupted, as: UTF8.self)) == nil, "position \(position)")
            }
        }
    }

    /// The token decoder's form: a slice of a larger text (its indices start where it does) into
    /// an array at an offset, leaving the bytes around it alone.
    @Test func decodesASliceIntoAnArrayAtAnOffset() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 53 &+ 3) }
            let text = Array(("ah1." + Base64URL.encode(bytes) + ".x").utf8)
            var output = [UInt8](repeating: 0xEE, count: length + 5)
            #expect(Base64URL.decode(text[4..<(text.count - 2)], into: &output, at: 3), "length \(length)")
            #expect(Array(output[3..<(3 + length)]) == bytes && output[..<3].allSatisfy { $0 == 0xEE })
            #expect(output[(3 + length)...].allSatisfy { $0 == 0xEE })
            // No room at that offset: refused, nothing written past the end.
            var short = [UInt8](repeating: 0, count: length + 2)
            #expect(!Base64URL.decode(text[4..<(text.count - 2)], into: &short, at: 3))
        }
    }
}
