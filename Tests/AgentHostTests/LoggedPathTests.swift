@testable import AgentHost
import Testing

struct LoggedPathTests {
    typealias Middleware = SecurityMiddleware<AgentRequestContext>

    @Test func queryIsDroppedAndLengthCapped() {
        #expect(Middleware.loggedPath("/api/agents?token=ah1.secret") == "/api/agents")
        #expect(Middleware.loggedPath("/api/whoami") == "/api/whoami")
        #expect(Middleware.loggedPath("?only=query") == "")
        let long = "/" + String(repeating: "a", count: 400)
        #expect(Middleware.loggedPath(long) == String(long.prefix(256)))
        // Multi-byte characters: cut at 256 characters, never inside one.
        let accented = "/" + String(repeating: "é", count: 300) + "?q=1"
        #expect(Middleware.loggedPath(accented) == "/" + String(repeating: "é", count: 255))
    }
}
