import Foundation
@testable import SecurityCore
import Testing

/// The one JSON writer: strings escaped so any JSON parser reads them back, values and problems.
struct JSONWriterTests {
    /// Strings that need every kind of escaping, plus multi-byte UTF-8 that must pass through as is.
    static let awkward = [
        "", "plain", "quote\"inside", "back\\slash", "new\nline\ttab\r", "\u{0}\u{1}\u{1F}",
        "\u{7F}delete", "é ü 漢字 🔑", "</script>", "{\"nested\":[1,2]}",
    ]

    @Test(arguments: awkward)
    func stringRoundTripsThroughAJSONParser(_ value: String) throws {
        var body: [UInt8] = []
        JSONWriter.append(array: [value], to: &body)
        let parsed = try JSONSerialization.jsonObject(with: Data(body)) as? [String]
        #expect(parsed == [value])
        // The same through a JSONValue and through a problem's detail.
        #expect(try JSONSerialization.jsonObject(with: Data(JSONValue.array([.string(value)]).json.utf8)) as? [String] == [value])
        let problem = Problem(
            type: "about:blank", title: "Bad Request", status: 400, detail: value, code: "c", extensions: [value: .string(value)])
        let object = try JSONSerialization.jsonObject(with: Data(problem.json.utf8)) as? [String: Any]
        #expect(object?["detail"] as? String == value)
        if !["type", "title", "status", "detail", "code"].contains(value) { #expect(object?[value] as? String == value) }
    }

    @Test func objectKeepsOrderAndWritesNull() throws {
        var object = JSONWriter.Object()
        object.add("a", "x\"y")
        object.add("b", nil)
        object.add("c", "")
        let bytes = object.finish()
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"a":"x\"y","b":null,"c":""}"#)
    }

    @Test func emptyObjectAndArray() {
        var object = JSONWriter.Object()
        #expect(object.finish() == Array("{}".utf8))
        var body: [UInt8] = []
        JSONWriter.append(array: [], to: &body)
        #expect(body == Array("[]".utf8))
    }

    @Test func valuesPrintWithSortedKeys() {
        let value = JSONValue.object(["b": .array([.integer(-1), .double(0.5), .bool(true), .null]), "a": .string("x")])
        #expect(value.json == #"{"a":"x","b":[-1,0.5,true,null]}"#)
        #expect(JSONValue.double(.infinity).json == "null")
    }

    @Test func hexEncodesAndDecodes() {
        #expect(Hex.encode([0x00, 0x0f, 0xa5, 0xff]) == "000fa5ff")
        #expect(Hex.decode("000FA5ff") == [0x00, 0x0f, 0xa5, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("") == [])
    }
}
