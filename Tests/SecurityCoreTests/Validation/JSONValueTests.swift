import SecurityCore
import Testing

struct JSONValueTests {
    func parse(_ text: String, depth: Int = 32) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8), maximumDepth: depth)
    }

    @Test func parsesDocuments() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": "x\u00e9\ud83d\ude00\n", "c": {}} "#)
        #expect(value["a"] == .array([.integer(1), .double(-2500), .bool(true), .bool(false), .null]))
        #expect(value["b"]?.stringValue == "xé😀\n")
        #expect(value["c"] == .object([:]))
        #expect(value.json == #"{"a":[1,-2500.0,true,false,null],"b":"xé😀\n","c":{}}"#)
        #expect(try parse("9223372036854775807") == .integer(.max))
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "NaN", "tru", "nul", "\"abc",
        "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\u{01}b\"", "{\"a\":1,\"a\":2}", "[1] [2]", "{a:1}", "'a'",
        "1e999", "[1 2]", "{\"a\" 1}",
    ])
    func refusesMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    /// Foundation's JSONSerialization reads these; found by scripts/fuzz (the json target).
    @Test(arguments: [
        ("[1,]", "trailing comma"), ("[1, ]", "trailing comma"), ("{\"a\":1, }", "trailing comma"),
        ("1\u{0}", "unexpected bytes after the JSON value"),
    ])
    func refusesWhatLenientParsersRead(text: String, reason: String) {
        let error = #expect(throws: JSONParseError.self) { try parse(text) }
        #expect(error?.reason == reason)
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xC0, 0xAF, 0x22]) }
    }

    @Test func nestingLimit() throws {
        #expect(try parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)) != .null)
        let error = #expect(throws: JSONParseError.self) {
            try parse(String(repeating: "[", count: 100_000))
        }
        #expect(error?.tooDeep == true)
    }
}
