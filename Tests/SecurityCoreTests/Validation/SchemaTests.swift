import Foundation
@testable import SecurityCore
import Testing

struct SchemaTests {
    static let message = Schema.object([
        "agent_id": .required(.string(format: .identifier)),
        "text": .required(.string(maxLength: 10)),
        "title": .optional(.string(length: 1...5, maximumBytes: 8)),
        "kind": .optional(.string(oneOf: ["note", "task"])),
        "code": .optional(.string(pattern: try! Schema.Pattern("[A-Z]{3}-[0-9]+"))),
        "priority": .optional(.integer(1...5)),
        "score": .optional(.number(0...1)),
        "urgent": .optional(.boolean),
        "callback": .optional(.string(format: .httpURL)),
        "tags": .optional(.array(of: .string(maxLength: 4), count: 0...2)),
        "owner": .optional(.object(["team": .required(.string(format: .identifier))])),
    ])

    func issues(_ json: String) throws -> [String] {
        try Self.message.validate(JSONValue.parse(Array(json.utf8))).map(\.description)
    }

    @Test func aValidDocumentPasses() throws {
        let found = try issues(
            #"""
            {"agent_id": "builder-7", "text": "héllo", "title": "ab", "kind": "task", "code": "ABC-12",
             "priority": 5, "score": 0.5, "urgent": true, "callback": "https://hooks.example.com:8443/x?y=1",
             "tags": ["a", "b"], "owner": {"team": "core"}}
            """#)
        #expect(found.isEmpty)
    }

    @Test func everyFailureIsCollectedWithItsPointer() throws {
        let found = try issues(
            #"""
            {"text": "01234567890", "title": "ééééé", "kind": "other", "code": "abc-1", "priority": 9,
             "score": 2, "urgent": "yes", "callback": "ftp://x", "tags": ["a", "toolong", "c"],
             "owner": {"team": "no spaces"}, "a/b~": 1}
            """#)
        #expect(
            found == [
                "/agent_id: required",
                "/callback: invalid_url",
                "/code: pattern_mismatch",
                "/kind: not_allowed",
                "/owner/team: invalid_identifier",
                "/priority: above_maximum (limit 5)",
                "/score: above_maximum",
                "/tags: too_many_items (limit 2)",
                "/text: too_long (limit 10)",
                "/title: too_many_bytes (limit 8)",
                "/urgent: wrong_type",
                "/a~1b~0: unknown_field",
            ])
    }

    @Test func charactersAndBytesAreCountedApart() throws {
        // Five characters, ten bytes: within the character limit of "text", over the byte cap of "title".
        let schema = Schema.object(["s": .required(.string(length: 2...5))])
        let pass = schema.validate(.object(["s": .string("ééééé")]))
        #expect(pass.isEmpty)
        let short = schema.validate(.object(["s": .string("é")])).map(\.code)
        #expect(short == [.tooShort])
        // One grapheme cluster made of several scalars counts as one character.
        let family = schema.validate(.object(["s": .string("👨‍👩‍👧ab")]))
        #expect(family.isEmpty)
    }

    @Test(arguments: [
        "https://user:pw@example.com/", "http://", "https://exa mple.com", "javascript:alert(1)", "https://example.com\\@evil",
        "http://[zz::1]/", "https://example.com:0/", "//example.com", "HTTPS://EXAMPLE.COM/ok",
    ])
    func urlFormat(url: String) {
        #expect(Schema.isHTTPURL(url) == (url == "HTTPS://EXAMPLE.COM/ok"))
    }

    @Test func checkBodyAnswersWithA400Problem() throws {
        let bad = Schema.object(["text": .required(.string(maxLength: 3))]).check(body: Array(#"{"text": "abcd"}"#.utf8))
        guard case .failure(let refusal) = bad else {
            Issue.record("expected a refusal")
            return
        }
        #expect(refusal.status == 400)
        #expect(refusal.problem.json.contains(#""errors":[{"code":"too_long","field":"/text","limit":3}]"#))
        let broken = Schema.boolean.check(body: Array("{".utf8))
        guard case .failure(let parse) = broken else {
            Issue.record("expected a refusal")
            return
        }
        #expect(parse.problem.code == "invalid_json")
        let deep = Schema.boolean.check(body: Array((String(repeating: "[", count: 40) + String(repeating: "]", count: 40)).utf8))
        guard case .failure(let tooDeep) = deep else {
            Issue.record("expected a refusal")
            return
        }
        #expect(tooDeep.status == 400)
        #expect(throws: SchemaError.self) { try Schema.Pattern("[unclosed") }
    }
}

struct PathGuardTests {
    let directory: String
    let root: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pathguard-\(UUID().uuidString)").path
        root = directory + "/root"
        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: directory + "/outside", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/src/main.swift"))
        try manager.createSymbolicLink(atPath: root + "/escape", withDestinationPath: "../outside")
        try manager.createSymbolicLink(atPath: root + "/absolute", withDestinationPath: "/etc")
        try manager.createSymbolicLink(atPath: root + "/inside", withDestinationPath: "src")
        try manager.createSymbolicLink(atPath: root + "/loop", withDestinationPath: "loop")
    }

    func code(_ path: String) throws -> PathGuardError.Code? {
        do {
            _ = try PathGuard(root: root).resolve(path)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func pathsUnderTheRootResolve() throws {
        let paths = try PathGuard(root: root)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try paths.resolve("src/main.swift") == paths.root + "/src/main.swift")
        #expect(try paths.resolve("./src//../src/./main.swift") == paths.root + "/src/main.swift")
        #expect(try paths.resolve("inside/main.swift") == paths.root + "/src/main.swift")
        #expect(try paths.resolve("new/file.txt") == paths.root + "/new/file.txt")
        #expect(try paths.resolve(".") == paths.root)
    }

    @Test func escapesAreRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try code("../outside") == .outsideRoot)
        #expect(try code("src/../../outside") == .outsideRoot)
        #expect(try code("escape/file") == .outsideRoot)
        #expect(try code("absolute/passwd") == .outsideRoot)
        #expect(try code("/etc/passwd") == .absolute)
        #expect(try code("") == .empty)
        #expect(try code("src/main.swift\0.txt") == .forbiddenCharacter)
        #expect(try code("src\\..\\..\\x") == .forbiddenCharacter)
        #expect(try code("loop/x") == .tooManyLinks)
        #expect(try code(String(repeating: "a/", count: 2_100)) == .tooLong)
        #expect(throws: PathGuardError.self) { try PathGuard(root: "relative") }
        #expect(throws: PathGuardError.self) { try PathGuard(root: directory + "/missing") }
    }
}

/// Durations in a body: whole seconds or ``DurationText``'s strings, in one range.
struct DurationSchemaTests {
    let schema = Schema.object(["ttl": .required(.duration(1...86_400))])

    func check(_ ttl: String) throws -> (issues: [String], seconds: Int64?) {
        let value = try JSONValue.parse(Array(#"{"ttl": \#(ttl)}"#.utf8))
        return (schema.validate(value).map(\.description), Schema.durationSeconds(value["ttl"]))
    }

    @Test(arguments: [("3600", 3_600), (#""1h""#, 3_600), (#""1h30m""#, 5_400), (#""45""#, 45), (#""1d""#, 86_400), (#""23h60m""#, 86_400)])
    func acceptsSecondsAndDurationStrings(ttl: String, seconds: Int64) throws {
        let (issues, parsed) = try check(ttl)
        #expect(issues.isEmpty)
        #expect(parsed == seconds)
    }

    @Test(arguments: [
        (#""1x""#, "/ttl: invalid_duration"), (#""""#, "/ttl: invalid_duration"), (#""-5m""#, "/ttl: invalid_duration"),
        (#""1.5h""#, "/ttl: invalid_duration"), (#""h""#, "/ttl: invalid_duration"), (#""１h""#, "/ttl: invalid_duration"),
        (#""99999999999999999999d""#, "/ttl: invalid_duration"), ("0", "/ttl: below_minimum (limit 1)"),
        (#""0s""#, "/ttl: below_minimum (limit 1)"),
        (#""2d""#, "/ttl: above_maximum (limit 86400)"), ("1.5", "/ttl: wrong_type"), ("true", "/ttl: wrong_type"),
        ("[60]", "/ttl: wrong_type"),
    ])
    func refusesWhatIsNoDurationInRange(ttl: String, issue: String) throws {
        #expect(try check(ttl).issues == [issue])
    }

    @Test func durationTextReadsEachUnit() {
        #expect(DurationText.seconds("90s") == 90 && DurationText.seconds("15m") == 900)
        #expect(DurationText.seconds("12h") == 43_200 && DurationText.seconds("7d") == 604_800)
        #expect(DurationText.seconds("1d1h1m1s") == 90_061 && DurationText.seconds("007") == 7)
        #expect(DurationText.seconds(String(repeating: "1", count: 33)) == nil)
        #expect(DurationText.seconds("9223372036854775807") == Int64.max && DurationText.seconds("9223372036854775808") == nil)
    }
}
