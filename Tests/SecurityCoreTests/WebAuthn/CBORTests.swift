import SecurityCore
import Testing

/// The CBOR decoder against RFC 8949 Appendix A's examples, and what WebAuthn's decoder refuses.
struct CBORTests {
    @Test(arguments: [
        ("00", CBORValue.integer(0)), ("17", .integer(23)), ("1818", .integer(24)), ("1903e8", .integer(1000)),
        ("1a000f4240", .integer(1_000_000)), ("1b000000e8d4a51000", .integer(1_000_000_000_000)), ("20", .integer(-1)),
        ("3903e7", .integer(-1000)), ("40", .bytes([])), ("4401020304", .bytes([1, 2, 3, 4])), ("60", .text("")),
        ("6161", .text("a")), ("6449455446", .text("IETF")), ("62c3bc", .text("ü")), ("80", .array([])),
        ("83010203", .array([.integer(1), .integer(2), .integer(3)])),
        ("8301820203820405", .array([.integer(1), .array([.integer(2), .integer(3)]), .array([.integer(4), .integer(5)])])),
        ("a0", .map([])), ("a201020304", .map([(.integer(1), .integer(2)), (.integer(3), .integer(4))])),
        ("a26161016162820203", .map([(.text("a"), .integer(1)), (.text("b"), .array([.integer(2), .integer(3)]))])),
        ("f4", .bool(false)), ("f5", .bool(true)), ("f6", .null),
    ])
    func rfc8949Examples(encoded: String, value: CBORValue) throws {
        #expect(try CBORDecoder.decode(hex(encoded)[...]) == value)
    }

    @Test(arguments: [
        "1817",  // 23 in two bytes: not the shortest form
        "190017", "1a00000017", "1b0000000000000017",
        "5f42010243030405ff",  // an indefinite byte string
        "9fff", "bfff",  // indefinite array and map
        "c074323031332d30332d32315432303a30343a30305a",  // a tag
        "f97e00", "fb3ff199999999999a", "f0",  // floats and other simple values
        "a201020103",  // a key sent twice
        "a1f401",  // a key that is not an integer or text
        "0000",  // bytes after the item
        "62c328",  // text that is not UTF-8
        "9a7fffffff",  // an array that says it is longer than its bytes
        "45010203",  // a byte string cut short
        "1bffffffffffffffff",  // past Int64
        "",
    ])
    func refused(encoded: String) {
        #expect(throws: WebAuthnError.self) { try CBORDecoder.decode(hex(encoded)[...]) }
    }

    @Test func nestingIsBounded() throws {
        let sixteen = [UInt8](repeating: 0x81, count: 16) + [0x00]
        #expect(throws: Never.self) { try CBORDecoder.decode(sixteen[...]) }
        let seventeen = [UInt8](repeating: 0x81, count: 17) + [0x00]
        #expect(throws: WebAuthnError.self) { try CBORDecoder.decode(seventeen[...]) }
        let deep = [UInt8](repeating: 0x81, count: 100_000) + [0x00]
        #expect(throws: WebAuthnError.self) { try CBORDecoder.decode(deep[...]) }
    }

    @Test func aPrefixLeavesTheRest() throws {
        let (value, rest) = try CBORDecoder.decodePrefix(hex("a1016161ff00")[...])
        #expect(value == .map([(.integer(1), .text("a"))]) && Array(rest) == [0xFF, 0x00])
    }
}
