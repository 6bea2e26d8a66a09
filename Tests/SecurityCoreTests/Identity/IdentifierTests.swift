import Foundation
import SecurityCore
import Testing

struct IdentifierTests {
    @Test(arguments: ["a", "builder-7", "CEO", "under_score", String(repeating: "x", count: 128)])
    func acceptsValid(value: String) throws {
        #expect(try AgentID(value).rawValue == value)
        #expect(try Role(value).rawValue == value)
        #expect(try Team(value).rawValue == value)
    }

    @Test(arguments: [
        "", " ", "a b", "a:b", "a/b", "a.b", "é", "agent\u{0}", "a\n", "😀",
        String(repeating: "x", count: 129), String(repeating: "y", count: 10_000),
    ])
    func refusesInvalid(value: String) {
        #expect(throws: IdentityError.self) { try AgentID(value) }
        #expect(throws: IdentityError.self) { try Role(value) }
        if !value.isEmpty { #expect(throws: IdentityError.self) { try Team(value) } }
    }

    @Test func teamMayBeEmpty() throws {
        #expect(try Team("").isEmpty)
        #expect(Team.none.rawValue == "")
    }

    @Test func errorsDoNotEchoTheValue() {
        let error = #expect(throws: IdentityError.self) { try AgentID("evil\u{1b}[31m-" + String(repeating: "z", count: 200)) }
        #expect(error.map { !"\($0)".contains("evil") } == true)
    }

    @Test func decodingValidates() throws {
        struct Wrapper: Codable { let agent: AgentID }
        let good = try JSONDecoder().decode(Wrapper.self, from: Data(#"{"agent":"a-1"}"#.utf8))
        #expect(good.agent.rawValue == "a-1")
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Wrapper.self, from: Data(#"{"agent":"a 1"}"#.utf8)) }
        #expect(String(decoding: try JSONEncoder().encode(good), as: UTF8.self) == #"{"agent":"a-1"}"#)
    }
}
