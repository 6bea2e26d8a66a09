@testable import AgentHost
import Foundation
import Testing

struct JSONBytesTests {
    /// Strings that need every kind of escaping, plus multi-byte UTF-8 that must pass through as is.
    static let awkward = [
        "", "plain", "quote\"inside", "back\\slash", "new\nline\ttab\r", "\u{0}\u{1}\u{1F}",
        "\u{7F}delete", "é ü 漢字 🔑", "</script>", "{\"nested\":[1,2]}",
    ]

    @Test(arguments: awkward)
    func stringRoundTripsThroughAJSONParser(_ value: String) throws {
        var body: [UInt8] = []
        JSONBytes.appendArray([value], to: &body)
        let parsed = try JSONSerialization.jsonObject(with: Data(body)) as? [String]
        #expect(parsed == [value])
    }

    @Test func objectKeepsOrderAndWritesNull() throws {
        var object = JSONBytes.Object()
        object.add("a", "x\"y")
        object.add("b", nil)
        object.add("c", "")
        let bytes = object.finish()
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"a":"x\"y","b":null,"c":""}"#)
    }

    @Test func emptyObjectAndArray() {
        var object = JSONBytes.Object()
        #expect(object.finish() == Array("{}".utf8))
        var body: [UInt8] = []
        JSONBytes.appendArray([], to: &body)
        #expect(body == Array("[]".utf8))
    }
}
