import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// A browser as the portal sees it: a cookie jar, and the hidden fields of the last form shown.
struct TestBrowser {
    var cookies: [String: String] = [:]
    /// What the browser sends besides its cookies: a page load from the portal's own origin.
    var headers: HTTPFields = [HTTPField.Name("Sec-Fetch-Site")!: "same-origin"]

    /// The `Cookie` header for what the jar holds.
    var cookieHeader: HTTPFields {
        var fields = headers
        if !cookies.isEmpty {
            fields[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        return fields
    }

    /// Takes the response's `Set-Cookie` values into the jar (a `Max-Age=0` removes one).
    mutating func absorb(_ response: TestResponse) {
        for value in response.headers[values: .setCookie] {
            let pair = value.split(separator: ";")[0]
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]), cookie = parts.count > 1 ? String(parts[1]) : ""
            cookies[name] = value.contains("Max-Age=0") ? nil : cookie
        }
    }

    /// The value of hidden field `name` in `html`.
    static func field(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: #"name="\#(name)" value=""#) else { return nil }
        let rest = html[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }.map(unescape)
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// A form body.
    static func form(_ fields: [(String, String)]) -> ByteBuffer {
        ByteBuffer(string: fields.map { FormBody.encode($0.0) + "=" + FormBody.encode($0.1) }.joined(separator: "&"))
    }
}

/// The sign-in portal (Docs/SIGN_IN.md) over a live server on 127.0.0.1: its pages, its cookie,
/// its forms' protections, forward auth for browsers, and the ways a session ends.
struct PortalTests {
    let password = "correct horse battery"
    static let portal = PortalConfiguration(protectedHosts: ["app.example.com"], idleTimeout: .seconds(600), lifetime: .seconds(3_600))

    func fixture(_ backend: Backend = .sqlite, scopes: [RateLimitScope] = [], portal: PortalConfiguration = Self.portal) async throws -> (
        HostFixture, SQLSecurityStore, AccountService
    ) {
        let (fixture, store, accounts) = try await HostFixture.withAccounts(
            backend, scopes: scopes, trustedProxies: ["127.0.0.1", "::1"], portal: portal)
        #expect(try await accounts.addUser(username: "alice", role: "member", password: password))
        return (fixture, store, accounts)
    }

    /// Runs `body` against a live server with the portal on, alice a member, then closes the store.
    func withPortal(
        _ backend: Backend = .sqlite, scopes: [RateLimitScope] = [], portal: PortalConfiguration = Self.portal,
        _ body: @Sendable (HostFixture, AccountService, any TestClientProtocol) async throws -> Void
    ) async throws {
        let (fixture, store, accounts) = try await fixture(backend, scopes: scopes, portal: portal)
        do {
            try await fixture.application().test(.live) { client in try await body(fixture, accounts, client) }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// Opens the sign-in page for `rd` and returns its HTML.
    @discardableResult
    func open(_ client: some TestClientProtocol, _ browser: inout TestBrowser, rd: String? = nil) async throws -> String {
        let uri = PortalPath.signIn + (rd.map { "?rd=" + FormBody.encode($0) } ?? "")
        let response = try await client.execute(uri: uri, method: .get, headers: browser.cookieHeader) { $0 }
        #expect(response.status == .ok)
        browser.absorb(response)
        return String(buffer: response.body)
    }

    /// Submits the sign-in form shown in `page`, with `changes` to its fields.
    func submit(
        _ client: some TestClientProtocol, _ browser: inout TestBrowser, page: String, username: String = "alice", password: String? = nil,
        changes: [String: String?] = [:], headers extra: HTTPFields = [:], contentType: String = "application/x-www-form-urlencoded"
    ) async throws -> TestResponse {
        var fields: [String: String?] = [
            "csrf": TestBrowser.field("csrf", in: page), "rd": TestBrowser.field("rd", in: page),
            "seal": TestBrowser.field("seal", in: page),
            "username": username, "password": password ?? self.password,
        ]
        fields.merge(changes) { _, new in new }
        var headers = browser.cookieHeader
        headers[.contentType] = contentType
        for field in extra { headers[field.name] = field.value }
        let body = TestBrowser.form(fields.compactMap { name, value in value.map { (name, $0) } }.sorted { $0.0 < $1.0 })
        let response = try await client.execute(uri: PortalPath.signIn, method: .post, headers: headers, body: body) { $0 }
        browser.absorb(response)
        return response
    }

    /// Signs alice in and returns the browser holding her session.
    func signIn(_ client: some TestClientProtocol, rd: String? = nil) async throws -> TestBrowser {
        var browser = TestBrowser()
        let page = try await open(client, &browser, rd: rd)
        let response = try await submit(client, &browser, page: page)
        #expect(response.status == .seeOther)
        #expect(browser.cookies["__Host-agenthost_session"] != nil)
        return browser
    }

    /// Asks `/auth/verify` about `GET uri` as nginx would, with the browser's cookies.
    func verify(_ client: some TestClientProtocol, _ browser: TestBrowser, uri: String = "/dashboard") async throws -> TestResponse {
        var headers = browser.cookieHeader
        headers[HTTPField.Name("X-Original-URI")!] = uri
        headers[HTTPField.Name("X-Original-Method")!] = "GET"
        return try await client.execute(uri: "/auth/verify", method: .get, headers: headers) { $0 }
    }

    @Test(arguments: Backend.enabled)
    func signingInSetsAHostOnlyCookieThatForwardAuthAccepts(backend: Backend) async throws {
        try await withPortal(backend) { _, _, client in
            var browser = TestBrowser()
            let first = try await client.execute(uri: PortalPath.signIn + "?rd=https%3A%2F%2Fapp.example.com%2Freports", method: .get) {
                $0
            }
            let page = try { response in
                #expect(response.status == .ok)
                let csp = try #require(response.headers[HTTPField.Name("Content-Security-Policy")!])
                #expect(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"))
                #expect(csp.contains("form-action 'self' https://app.example.com"))
                #expect(response.headers[.cacheControl] == "no-store")
                let cookie = try #require(response.headers[values: .setCookie].first)
                #expect(cookie.hasPrefix("__Host-agenthost_signin=") && cookie.contains("HttpOnly") && cookie.contains("Secure"))
                return String(buffer: response.body)
            }(first)
            browser.absorb(first)
            #expect(page.contains(#"<label for="username">"#) && page.contains(#"<label for="password">"#))
            #expect(TestBrowser.field("rd", in: page) == "https://app.example.com/reports")

            let response = try await submit(client, &browser, page: page)
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "https://app.example.com/reports")
            let set = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("__Host-agenthost_session=") })
            #expect(set.contains("; Path=/") && set.contains("; Secure") && set.contains("; HttpOnly") && set.contains("; SameSite=Lax"))
            #expect(!set.contains("Domain="))
            #expect(set.contains("Max-Age=3600"))
            let session = try #require(browser.cookies["__Host-agenthost_session"])
            #expect(session.hasPrefix("ahb1."))
            #expect(browser.cookies["__Host-agenthost_signin"] == nil, "the sign-in cookie is cleared")

            let verified = try await verify(client, browser)
            #expect(verified.status == .ok)
            #expect(verified.headers[HTTPField.Name("X-Auth-User")!] == "alice")
            #expect(verified.headers[HTTPField.Name("X-Auth-Role")!] == "member")
            #expect(verified.headers[HTTPField.Name("X-Auth-Agent-ID")!] == "user:alice")

            // The JSON API takes header credentials only: the cookie counts for nothing there.
            try await client.execute(uri: "/api/keys", method: .get, headers: browser.cookieHeader) { response in
                #expect(response.status == .unauthorized, "\(String(buffer: response.body))")
            }
            // Nor is the cookie a bearer token anywhere.
            try await client.execute(uri: "/api/keys", method: .get, headers: [.authorization: "Bearer \(session)"]) { response in
                #expect(response.status == .unauthorized)
            }
            // Its page lists the session, marked as this browser's.
            try await client.execute(uri: PortalPath.sessions, method: .get, headers: browser.cookieHeader) { response in
                #expect(response.status == .ok)
                let html = String(buffer: response.body)
                #expect(html.contains("this browser") && html.contains("alice"))
            }
        }
    }

    @Test func aWrongPasswordAndAnUnknownUserGetOneAnswerUntilTheBudgetIsSpent() async throws {
        let scopes = try AgentHostConfiguration.rateLimitScopes(RateLimitScope.agentHost, overriddenBy: ["login-failures=3/15m"])
        try await withPortal(scopes: scopes) { _, _, client in
            var browser = TestBrowser()
            var page = try await open(client, &browser)
            var answers = [String]()
            for (username, password) in [
                ("alice", "wrong password!!"), ("nobody", password), ("alice", "still the wrong one"), ("alice", "wrong password!!"),
            ] {
                let response = try await submit(client, &browser, page: page, username: username, password: password)
                #expect(response.status == .unauthorized)
                page = String(buffer: response.body)
                #expect(page.contains("The user name or the password is wrong."))
                #expect(!page.contains("still the wrong one") && !page.contains("wrong password"))
                #expect(browser.cookies["__Host-agenthost_session"] == nil)
                answers.append(page.replacingOccurrences(of: username, with: "NAME"))
            }
            // The same page for an unknown user as for a wrong password (the name typed aside).
            #expect(Set(answers.map { $0.replacingOccurrences(of: #"value="[^"]*""#, with: "", options: .regularExpression) }).count == 1)
            // Alice's account budget is spent: even her right password waits.
            let response = try await submit(client, &browser, page: page)
            #expect(response.status == .tooManyRequests)
            #expect(response.headers[.retryAfter] != nil)
            #expect(browser.cookies["__Host-agenthost_session"] == nil)
        }
    }

    @Test func formsWithoutTheirTokenOrFromAnotherSiteAreRefused() async throws {
        try await withPortal { _, _, client in
            var browser = TestBrowser()
            let page = try await open(client, &browser)
            let refusals: [(String, [String: String?], HTTPFields, String)] = [
                ("no CSRF token", ["csrf": nil], [:], "application/x-www-form-urlencoded"),
                (
                    "another browser's token", ["csrf": "9I35CIUzzBmWgxI4QlYHwcVG4XFUw3u1i7NnAITh5ps"], [:],
                    "application/x-www-form-urlencoded"
                ),
                ("a cross-site form", [:], [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"], "application/x-www-form-urlencoded"),
                ("another origin", [:], [.origin: "https://evil.example"], "application/x-www-form-urlencoded"),
                ("a text/plain form", [:], [:], "text/plain"),
            ]
            for (name, changes, headers, type) in refusals {
                let response = try await submit(client, &browser, page: page, changes: changes, headers: headers, contentType: type)
                #expect(response.status == .forbidden, "\(name)")
                #expect(browser.cookies["__Host-agenthost_session"] == nil, "\(name)")
            }
            // Without the sign-in cookie the form is stale: shown again, nobody signed in.
            var stranger = TestBrowser()
            let stale = try await submit(client, &stranger, page: page)
            #expect(stale.status == .badRequest && stranger.cookies["__Host-agenthost_session"] == nil)

            // Signed in, sign-out and ending a session need the token too.
            var signedIn = try await signIn(client)
            for path in [PortalPath.signOut, PortalPath.endSession] {
                var headers = signedIn.cookieHeader
                headers[.contentType] = "application/x-www-form-urlencoded"
                try await client.execute(uri: path, method: .post, headers: headers, body: TestBrowser.form([("csrf", "x")])) { response in
                    #expect(response.status == .forbidden, "\(path)")
                }
            }
            #expect(try await verify(client, signedIn).status == .ok, "the session outlived the forged sign-out")
            // A cross-site sign-out with the right token (a page that somehow read it) is refused by origin.
            let csrf = try await client.execute(uri: PortalPath.sessions, method: .get, headers: signedIn.cookieHeader) { response in
                try #require(TestBrowser.field("csrf", in: String(buffer: response.body)))
            }
            signedIn.headers[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            var headers = signedIn.cookieHeader
            headers[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(uri: PortalPath.signOut, method: .post, headers: headers, body: TestBrowser.form([("csrf", csrf)])) {
                response in
                #expect(response.status == .forbidden)
            }
        }
    }

    @Test func aReturnURLThatLeavesEndsAtHomeAndCannotBeSwapped() async throws {
        try await withPortal { _, _, client in
            for target in [
                "https://evil.example/", "//evil.example", "https://app.example.com.evil.example/", "https://alice@app.example.com/",
                "https://app.example.com\\@evil.example/", "javascript:alert(1)", "http://app.example.com/",
            ] {
                var browser = TestBrowser()
                let page = try await open(client, &browser, rd: target)
                #expect(TestBrowser.field("rd", in: page) == PortalPath.sessions, "\(target)")
                let response = try await submit(client, &browser, page: page)
                #expect(response.headers[.location] == PortalPath.sessions, "\(target)")
            }
            // The URL sealed into the form cannot be swapped for another before it is posted.
            var browser = TestBrowser()
            let page = try await open(client, &browser, rd: "https://app.example.com/reports")
            let swapped = try await submit(client, &browser, page: page, changes: ["rd": "https://app.example.com/admin"])
            #expect(swapped.status == .forbidden && browser.cookies["__Host-agenthost_session"] == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func signingOutEndingASessionAndAccountChangesEndSessions(backend: Backend) async throws {
        try await withPortal(backend) { fixture, accounts, client in
            // Sign-out: the cookie is cleared, and the old value no longer passes.
            var browser = try await signIn(client)
            let old = browser
            let csrf = try await client.execute(uri: PortalPath.sessions, method: .get, headers: browser.cookieHeader) { response in
                try #require(TestBrowser.field("csrf", in: String(buffer: response.body)))
            }
            var headers = browser.cookieHeader
            headers[.contentType] = "application/x-www-form-urlencoded"
            let signedOut = try await client.execute(
                uri: PortalPath.signOut, method: .post, headers: headers, body: TestBrowser.form([("csrf", csrf)])
            ) { $0 }
            #expect(signedOut.status == .seeOther && signedOut.headers[.location] == PortalPath.signedOut)
            browser.absorb(signedOut)
            #expect(browser.cookies["__Host-agenthost_session"] == nil)
            #expect(try await verify(client, old).status == .unauthorized)

            // One browser ends another's session from its sessions page.
            let phone = try await signIn(client)
            let laptop = try await signIn(client)
            let (page, laptopCSRF) = try await client.execute(uri: PortalPath.sessions, method: .get, headers: laptop.cookieHeader) {
                response in
                let html = String(buffer: response.body)
                return (html, try #require(TestBrowser.field("csrf", in: html)))
            }
            let ids = page.components(separatedBy: #"name="session" value=""#).dropFirst().map { String($0.prefix(32)) }
            #expect(ids.count == 2)
            let phoneID = try #require(
                ids.first {
                    !page.contains(
                        #"value="\#($0)">"# + "\n"
                            + #"<button type="submit" class="secondary" aria-label="End the session of this browser""#)
                })
            headers = laptop.cookieHeader
            headers[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(
                uri: PortalPath.endSession, method: .post, headers: headers,
                body: TestBrowser.form([("csrf", laptopCSRF), ("session", phoneID)])
            ) { response in
                #expect(response.status == .seeOther && response.headers[.location] == PortalPath.sessions)
            }
            #expect(try await verify(client, phone).status == .unauthorized)
            #expect(try await verify(client, laptop).status == .ok)

            // A change of role, a new password, deleting the user: each ends what is open.
            fixture.clock.advance(by: 1)
            #expect(try await accounts.setRole(username: "alice", role: "viewer"))
            #expect(try await verify(client, laptop).status == .unauthorized)
            let viewer = try await signIn(client)
            #expect(try await verify(client, viewer).headers[HTTPField.Name("X-Auth-Role")!] == "viewer")
            fixture.clock.advance(by: 1)
            #expect(try await accounts.setPassword(username: "alice", password: password))
            #expect(try await verify(client, viewer).status == .unauthorized)
            let again = try await signIn(client)
            #expect(try await accounts.deleteUser(username: "alice"))
            #expect(try await verify(client, again).status == .unauthorized)
        }
    }

    @Test(arguments: Backend.enabled)
    func aUserAndAnAdminListAndEndSessionsOverTheAPI(backend: Backend) async throws {
        try await withPortal(backend) { fixture, accounts, client in
            #expect(try await accounts.addUser(username: "bob", role: "member", password: password))
            let phone = try await signIn(client)
            let laptop = try await signIn(client)
            let alice = try fixture.components.sessionMinter.mint(agent: AgentID("alice"), role: Role("member")).token
            let bob = try fixture.components.sessionMinter.mint(agent: AgentID("bob"), role: Role("member")).token
            let admin = try fixture.token(agent: "ops", role: "admin").token
            func call(_ method: HTTPRequest.Method, _ uri: String, _ token: String, headers extra: HTTPFields = [:]) async throws
                -> TestResponse
            {
                var headers: HTTPFields = [.authorization: "Bearer \(token)"]
                for field in extra { headers[field.name] = field.value }
                return try await client.execute(uri: uri, method: method, headers: headers) { $0 }
            }
            let listed = try await call(.get, "/api/users/alice/sessions", alice)
            #expect(listed.status == .ok)
            let sessions = try #require(try json(listed.body)["sessions"] as? [[String: Any]])
            #expect(sessions.count == 2 && sessions.allSatisfy { ($0["client"] as? String)?.isEmpty == false })
            // Someone else's: no. The cookie in place of a token: no.
            #expect(try await call(.get, "/api/users/alice/sessions", bob).status == .forbidden)
            var cookieOnly = phone.cookieHeader
            cookieOnly[.authorization] = nil
            try await client.execute(uri: "/api/users/alice/sessions", method: .get, headers: cookieOnly) { response in
                #expect(response.status == .unauthorized)
            }
            // Alice ends one; an admin ends the rest.
            let first = try #require(sessions.first?["id"] as? String)
            #expect(try await call(.delete, "/api/users/alice/sessions/\(first)", alice).status == .noContent)
            #expect(try await call(.delete, "/api/users/alice/sessions/\(first)", alice).status == .notFound)
            #expect(try await call(.delete, "/api/users/bob/sessions/\(first)", admin).status == .notFound, "not bob's")
            let statuses = [try await verify(client, phone).status, try await verify(client, laptop).status]
            #expect(statuses.sorted { $0.code < $1.code } == [.ok, .unauthorized])
            let ended = try await call(.delete, "/api/users/alice/sessions", admin)
            let count = try json(ended.body)["ended"] as? Int
            #expect(ended.status == .ok && count == 1)
            let after = [try await verify(client, phone).status, try await verify(client, laptop).status]
            #expect(after == [.unauthorized, .unauthorized])
        }
    }

    /// Posts the second-factor form shown in `page` with `code`.
    func secondFactor(_ client: some TestClientProtocol, _ browser: inout TestBrowser, page: String, code: String) async throws
        -> TestResponse
    {
        var headers = browser.cookieHeader
        headers[.contentType] = "application/x-www-form-urlencoded"
        let body = TestBrowser.form([
            ("csrf", TestBrowser.field("csrf", in: page) ?? ""), ("rd", TestBrowser.field("rd", in: page) ?? ""),
            ("seal", TestBrowser.field("seal", in: page) ?? ""), ("code", code),
        ])
        let response = try await client.execute(uri: "/auth/second-factor", method: .post, headers: headers, body: body) { $0 }
        browser.absorb(response)
        return response
    }

    @Test(arguments: Backend.enabled)
    func aRoleThatNeedsASecondFactorSetsOneUpThenUsesEachCodeOnce(backend: Backend) async throws {
        var portal = Self.portal
        portal.secondFactorRoles = ["admin"]
        try await withPortal(backend, portal: portal) { fixture, accounts, client in
            #expect(try await accounts.addUser(username: "root", role: "admin", password: password))
            // The right password, and no second factor yet: set one up.
            var browser = TestBrowser()
            var page = try await open(client, &browser, rd: "https://app.example.com/admin")
            let asked = try await submit(client, &browser, page: page, username: "root")
            #expect(
                asked.status == .ok && browser.cookies["__Host-agenthost_session"] == nil
                    && browser.cookies["__Host-agenthost_pending"] != nil)
            page = String(buffer: asked.body)
            #expect(page.contains("Set up a second factor") && page.contains("otpauth://totp/AgentHost:root?secret="))
            let secretText = try #require(
                page.components(separatedBy: #"id="secret" aria-label="The key">"#).dropFirst().first?.prefix { $0 != "<" })
            let totp = try TOTP(
                secret: SecureBytes(copying: try #require(Base32.decode(secretText.replacingOccurrences(of: " ", with: "")))))
            // A code of another time is refused, and shows the same key again.
            let wrong = try await secondFactor(client, &browser, page: page, code: totp.code(at: fixture.clock.now() - 600))
            #expect(wrong.status == .unauthorized && browser.cookies["__Host-agenthost_session"] == nil)
            page = String(buffer: wrong.body)
            #expect(page.contains("That code is not right") && page.contains(String(secretText)))
            let enrolled = try await secondFactor(client, &browser, page: page, code: totp.code(at: fixture.clock.now()))
            #expect(enrolled.status == .ok && browser.cookies["__Host-agenthost_session"] != nil)
            #expect(browser.cookies["__Host-agenthost_pending"] == nil)
            let codesPage = String(buffer: enrolled.body)
            let recovery = codesPage.components(separatedBy: "<li><code>").dropFirst().map { String($0.prefix(11)) }
            #expect(recovery.count == 10 && Set(recovery).count == 10 && codesPage.contains(#"href="https://app.example.com/admin""#))
            #expect(try await verify(client, browser).status == .ok)

            // Signing in again asks for a code; the one just used is refused, the next step's works.
            func passwordStep() async throws -> (TestBrowser, String) {
                var next = TestBrowser()
                let form = try await open(client, &next)
                let response = try await submit(client, &next, page: form, username: "root")
                let html = String(buffer: response.body)
                #expect(response.status == .ok && html.contains("Second factor") && !html.contains("otpauth"))
                return (next, html)
            }
            var (second, secondPage) = try await passwordStep()
            let replayed = try await secondFactor(client, &second, page: secondPage, code: totp.code(at: fixture.clock.now()))
            #expect(replayed.status == .unauthorized && second.cookies["__Host-agenthost_session"] == nil, "a code is used once")
            fixture.clock.advance(by: 30)
            secondPage = String(buffer: replayed.body)
            let next = try await secondFactor(client, &second, page: secondPage, code: totp.code(at: fixture.clock.now()))
            #expect(next.status == .seeOther && second.cookies["__Host-agenthost_session"] != nil)

            // A recovery code signs in once.
            var (third, thirdPage) = try await passwordStep()
            #expect(try await secondFactor(client, &third, page: thirdPage, code: recovery[3].uppercased()).status == .seeOther)
            (third, thirdPage) = try await passwordStep()
            #expect(try await secondFactor(client, &third, page: thirdPage, code: recovery[3]).status == .unauthorized)

            // The second step waits five minutes at most (and the tokens' 30 s of clock leeway).
            var (slow, slowPage) = try await passwordStep()
            fixture.clock.advance(by: 331)
            let late = try await secondFactor(client, &slow, page: slowPage, code: totp.code(at: fixture.clock.now()))
            #expect(late.status == .badRequest && slow.cookies["__Host-agenthost_session"] == nil)
            _ = slowPage
            // A member (no second factor required, none set up) signs in with the password alone.
            let member = try await signIn(client)
            #expect(try await verify(client, member).status == .ok)
        }
    }

    @Test func anIdleSessionEndsAndAUsedOneLastsUntilItsLifetime() async throws {
        try await withPortal { fixture, _, client in
            let idle = try await signIn(client)
            let busy = try await signIn(client)
            // Busy: used every 9 minutes (the idle timeout is 10) until the hour is up.
            for _ in 0..<6 {
                fixture.clock.advance(by: 9 * 60)
                #expect(try await verify(client, busy).status == .ok)
            }
            #expect(try await verify(client, idle).status == .unauthorized)
            fixture.clock.advance(by: 9 * 60)
            #expect(try await verify(client, busy).status == .unauthorized, "past its lifetime")
        }
    }

    @Test func forwardAuthSendsABrowserToSignInAndEverythingElseA401() async throws {
        try await withPortal(scopes: RateLimitScope.agentHost) { _, _, client in
            func ask(_ fields: [String: String]) async throws -> TestResponse {
                var headers = HTTPFields()
                for (name, value) in fields { headers[HTTPField.Name(name)!] = value }
                return try await client.execute(uri: "/auth/verify", method: .get, headers: headers) { $0 }
            }
            let page = [
                "Sec-Fetch-Mode": "navigate", "Accept": "text/html", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com",
            ]
            // nginx (X-Original-*): 401 with the target in Location, for error_page 401 =302.
            let nginx = try await ask(page.merging(["X-Original-URI": "/reports?week=2", "X-Original-Method": "GET"]) { $1 })
            #expect(nginx.status == .unauthorized)
            #expect(
                nginx.headers[.location] == "https://app.example.com/auth/sign-in?rd=https%3A%2F%2Fapp.example.com%2Freports%3Fweek%3D2")
            #expect(nginx.headers[.wwwAuthenticate] != nil)
            // Caddy and Traefik (X-Forwarded-*): the redirect itself.
            let caddy = try await ask(page.merging(["X-Forwarded-Uri": "/reports", "X-Forwarded-Method": "GET"]) { $1 })
            #expect(caddy.status == .found)
            #expect(caddy.headers[.location] == "https://app.example.com/auth/sign-in?rd=https%3A%2F%2Fapp.example.com%2Freports")
            // A signed-out browser loads a page and its assets without a credential: that is no
            // guess, so the client's failure budget (10 a minute) is not spent, and the 30th load
            // is still sent to sign in rather than refused 429.
            for _ in 0..<30 {
                let load = try await ask(page.merging(["X-Original-URI": "/asset.css", "X-Original-Method": "GET"]) { $1 })
                #expect(load.status == .unauthorized && load.headers[.location] != nil)
            }
            // A script's fetch, a form post, an API client: 401 and no redirect.
            for fields in [
                ["Sec-Fetch-Mode": "cors", "X-Forwarded-Uri": "/api/data", "X-Forwarded-Method": "GET"],
                page.merging(["X-Forwarded-Uri": "/reports", "X-Forwarded-Method": "POST"]) { $1 },
                ["Accept": "application/json", "X-Original-URI": "/reports", "X-Original-Method": "GET"],
                ["Accept": "text/html", "X-Requested-With": "XMLHttpRequest", "X-Original-URI": "/reports", "X-Original-Method": "GET"],
            ] {
                let response = try await ask(fields)
                #expect(response.status == .unauthorized && response.headers[.location] == nil, "\(fields)")
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func aSessionBegunOnOneServerEndsOnAnotherThatSharesTheStore(backend: Backend) async throws {
        let vault = SecureBytes.random(count: 32)
        let (first, store, accounts) = try await HostFixture.withAccounts(
            backend, trustedProxies: ["127.0.0.1", "::1"], portal: Self.portal, vaultSecret: vault)
        #expect(try await accounts.addUser(username: "alice", role: "member", password: password))
        let (second, _, _) = try await HostFixture.withAccounts(
            backend, trustedProxies: ["127.0.0.1", "::1"], portal: Self.portal, sharing: store, keyring: first.keyring, vaultSecret: vault)
        do {
            try await first.application().test(.live) { one in
                try await second.application().test(.live) { two in
                    let browser = try await signIn(one)
                    #expect(try await verify(two, browser).status == .ok, "a session made on one server works on the other")
                    let csrf = try await one.execute(uri: PortalPath.sessions, method: .get, headers: browser.cookieHeader) { response in
                        try #require(TestBrowser.field("csrf", in: String(buffer: response.body)))
                    }
                    var headers = browser.cookieHeader
                    headers[.contentType] = "application/x-www-form-urlencoded"
                    try await one.execute(
                        uri: PortalPath.signOut, method: .post, headers: headers, body: TestBrowser.form([("csrf", csrf)])
                    ) {
                        response in
                        #expect(response.status == .seeOther)
                    }
                    // What a server does every few seconds, or at once on PostgreSQL's notice.
                    try await second.components.refreshRevocations()
                    #expect(try await verify(two, browser).status == .unauthorized, "signed out on one server, refused on the other")
                }
            }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}

/// The portal's paths, as a browser knows them.
enum PortalPath {
    static let signIn = "/auth/sign-in"
    static let signOut = "/auth/sign-out"
    static let signedOut = "/auth/signed-out"
    static let sessions = "/auth/sessions"
    static let endSession = "/auth/sessions/end"
}
