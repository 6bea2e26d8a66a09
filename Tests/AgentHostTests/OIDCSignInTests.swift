import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import AgentHost
import SecurityCore
import SecurityStore
import Testing

/// Single sign-on at the portal over a live server on 127.0.0.1, with ``FakeOIDCProvider`` as the
/// provider and the test as the browser: the button, the provider's answer, the callback, and
/// every way the answer can be wrong. Tests/Browser/sso.py does the same with Chromium and a real
/// provider (oidc-provider-mock).
struct OIDCSignInTests {
    struct Setup {
        let fixture: HostFixture
        let store: SQLSecurityStore
        let accounts: AccountService
        let fake: FakeOIDCProvider
    }

    /// A server whose one provider is `fake` (people of example.com; `engineering` members,
    /// `admins` admins), its client secret set; `body` runs against it live.
    func withProvider(
        _ fake: FakeOIDCProvider, change: (inout OIDCProviderConfiguration) -> Void = { _ in }, secondFactorRoles: [String] = [],
        _ body: @Sendable (Setup, any TestClientProtocol) async throws -> Void
    ) async throws {
        var provider = OIDCProviderConfiguration(
            name: "fake", issuer: fake.issuer, clientID: fake.clientID, label: "Sign in with Fake", allowedDomains: ["example.com"],
            roleClaim: "groups", roles: ["engineering": try Role("member"), "admins": try Role("admin")])
        change(&provider)
        var portal = PortalConfiguration(protectedHosts: ["app.example.com"])
        portal.secondFactorRoles = secondFactorRoles
        let (fixture, store, accounts) = try await HostFixture.withAccounts(
            trustedProxies: ["127.0.0.1", "::1"], portal: portal, oidcProviders: [provider])
        try await fixture.components.credentials?.setSystemSecret(
            named: SingleSignOn.secretName("fake"), secret: SecureBytes(copying: Array(fake.clientSecret.utf8)))
        let setup = Setup(fixture: fixture, store: store, accounts: accounts, fake: fake)
        do {
            try await fixture.application().test(.live) { client in try await body(setup, client) }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// The provider's side of one sign-in: the query of the authorization request AgentHost sent
    /// the browser to.
    struct Request {
        let state: String
        let nonce: String
        let challenge: String
        let redirectURI: String
    }

    /// Presses the button: the browser is sent to the provider with a sealed flow cookie.
    func start(_ client: some TestClientProtocol, _ browser: inout TestBrowser, rd: String = "https://app.example.com/board") async throws
        -> Request
    {
        let response = try await client.execute(
            uri: "/auth/oidc/fake?rd=" + FormBody.encode(rd), method: .get, headers: browser.cookieHeader
        ) { $0 }
        #expect(response.status == .seeOther)
        browser.absorb(response)
        #expect(browser.cookies["__Host-agenthost_oidc"] != nil)
        let location = try #require(response.headers[.location].flatMap(URLComponents.init(string:)))
        let query = Dictionary(uniqueKeysWithValues: (location.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        return Request(
            state: query["state"] ?? "", nonce: query["nonce"] ?? "", challenge: query["code_challenge"] ?? "",
            redirectURI: query["redirect_uri"] ?? "")
    }

    /// Comes back from the provider with `query`.
    func callback(_ client: some TestClientProtocol, _ browser: inout TestBrowser, _ query: [(String, String)]) async throws -> TestResponse
    {
        let uri = "/auth/oidc/fake/callback?" + query.map { FormBody.encode($0.0) + "=" + FormBody.encode($0.1) }.joined(separator: "&")
        let response = try await client.execute(uri: uri, method: .get, headers: browser.cookieHeader) { $0 }
        browser.absorb(response)
        return response
    }

    /// Signs in at the fake provider as `claims` would have it, and comes back.
    func signIn(
        _ setup: Setup, _ client: some TestClientProtocol, _ browser: inout TestBrowser, kid: String = "es-1",
        change: (inout FakeOIDCProvider.Claims) -> Void = { _ in }
    ) async throws -> TestResponse {
        let request = try await start(client, &browser)
        var claims = setup.fake.claims(nonce: request.nonce, now: setup.fixture.clock.now())
        change(&claims)
        let code = setup.fake.code(for: try await setup.fake.sign(claims, kid: kid), challenge: request.challenge)
        return try await callback(client, &browser, [("code", code), ("state", request.state), ("iss", setup.fake.issuer)])
    }

    @Test func aPersonOfAnAllowedDomainGetsInWithTheMappedRole() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            try await withProvider(fake) { setup, client in
                var browser = TestBrowser()
                let page = try await client.execute(uri: "/auth/sign-in", method: .get) { String(buffer: $0.body) }
                #expect(page.contains(#"href="/auth/oidc/fake?rd="#) && page.contains("Sign in with Fake") && page.contains("Password"))
                let request = try await start(client, &browser)
                #expect(request.redirectURI.hasSuffix("/auth/oidc/fake/callback"))
                let response = try await signIn(setup, client, &browser) { $0.groups = ["engineering", "other"] }
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "https://app.example.com/board")
                #expect(browser.cookies["__Host-agenthost_session"] != nil && browser.cookies["__Host-agenthost_oidc"] == nil)
                let user = try #require(try await setup.accounts.users.user(named: "alice"))
                #expect(user.role == "member" && user.passwordHash.isEmpty)
                #expect(try await setup.store.identityLink(provider: "fake", subject: "248289761001")?.username == "alice")
                // No password signs in as a single sign-on user.
                #expect(try await setup.accounts.login(username: "alice", password: "") == nil)
                // Forward auth sees her as a person.
                var headers = browser.cookieHeader
                headers[HTTPField.Name("X-Original-URI")!] = "/board"
                headers[HTTPField.Name("X-Original-Method")!] = "GET"
                let verified = try await client.execute(uri: "/auth/verify", method: .get, headers: headers) { $0 }
                #expect(verified.status == .ok && verified.headers[HTTPField.Name("X-Auth-User")!] == "alice")

                // The next sign-in is the same user; an admins' group now makes her an admin.
                var again = TestBrowser()
                _ = try await signIn(setup, client, &again) { $0.groups = ["admins", "engineering"] }
                #expect(again.cookies["__Host-agenthost_session"] != nil)
                #expect(try await setup.accounts.users.user(named: "alice")?.role == "admin")
                var headersAgain = again.cookieHeader
                headersAgain[HTTPField.Name("X-Original-URI")!] = "/board"
                headersAgain[HTTPField.Name("X-Original-Method")!] = "GET"
                let asAdmin = try await client.execute(uri: "/auth/verify", method: .get, headers: headersAgain) { $0 }
                #expect(asAdmin.status == .ok && asAdmin.headers[HTTPField.Name("X-Auth-Role")!] == "admin")
                // The role change ended the session she held as a member.
                let asMember = try await client.execute(uri: "/auth/verify", method: .get, headers: headers) { $0.status }
                #expect(asMember == .unauthorized)
                // Out of every mapped group, she is refused, and keeps no role she had.
                var removed = TestBrowser()
                let outOfGroups = try await signIn(setup, client, &removed) { $0.groups = [] }
                #expect(outOfGroups.status == .forbidden && removed.cookies["__Host-agenthost_session"] == nil)
                #expect(try await setup.store.users().count == 1)
            }
        }
    }

    @Test func anotherDomainANameTakenAndNoRoleAreHandledApart() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            try await withProvider(fake) { setup, client in
                var browser = TestBrowser()
                let other = try await signIn(setup, client, &browser) { $0.email = "bob@other.example" }
                #expect(other.status == .forbidden)
                #expect(String(buffer: other.body).contains("Accounts of other.example may not sign in here"))
                #expect(browser.cookies["__Host-agenthost_session"] == nil && browser.cookies["__Host-agenthost_oidc"] == nil)
                let unverified = try await signIn(setup, client, &browser) { $0.email_verified = false }
                #expect(unverified.status == .forbidden && String(buffer: unverified.body).contains("verified email"))
                let roleless = try await signIn(setup, client, &browser) { $0.groups = ["sales"] }
                #expect(roleless.status == .forbidden && String(buffer: roleless.body).contains("gives no role"))
                // A local alice exists: the provider's alice gets a name of her own, not that account.
                #expect(try await setup.accounts.addUser(username: "alice", role: "owner", password: "correct horse battery"))
                let signedIn = try await signIn(setup, client, &browser)
                #expect(signedIn.status == .seeOther)
                let link = try #require(try await setup.store.identityLink(provider: "fake", subject: "248289761001"))
                #expect(link.username.hasPrefix("alice-") && link.username.count == 14)
                #expect(try await setup.accounts.users.user(named: link.username)?.role == "member")
            }
        }
    }

    @Test func aTamperedStateAReplayAndAStrangersCallbackAreRefused() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            try await withProvider(fake) { setup, client in
                var browser = TestBrowser()
                let request = try await start(client, &browser)
                let code = setup.fake.code(
                    for: try await setup.fake.sign(setup.fake.claims(nonce: request.nonce, now: setup.fixture.clock.now())),
                    challenge: request.challenge)
                let flow = browser.cookies
                var tampered = browser
                let wrongState = try await callback(
                    client, &tampered, [("code", code), ("state", request.state + "x"), ("iss", fake.issuer)])
                #expect(wrongState.status == .badRequest && String(buffer: wrongState.body).contains("(state)"))
                // A browser that did not begin the sign-in (login CSRF) has no flow to finish.
                var stranger = TestBrowser()
                let csrf = try await callback(client, &stranger, [("code", code), ("state", request.state), ("iss", fake.issuer)])
                #expect(csrf.status == .badRequest && stranger.cookies["__Host-agenthost_session"] == nil)
                // Another provider's iss.
                var mixedUp = browser
                let otherIssuer = try await callback(
                    client, &mixedUp, [("code", code), ("state", request.state), ("iss", "https://evil.example.com")])
                #expect(otherIssuer.status == .badRequest && String(buffer: otherIssuer.body).contains("(iss)"))
                // The replays above spent the state: even the right answer is now refused.
                browser.cookies = flow
                let late = try await callback(client, &browser, [("code", code), ("state", request.state), ("iss", fake.issuer)])
                #expect(late.status == .badRequest && String(buffer: late.body).contains("used already"))
                #expect(browser.cookies["__Host-agenthost_session"] == nil)

                // A fresh sign-in goes through; its answer replayed is refused, by AgentHost and by the provider.
                var second = TestBrowser()
                let again = try await start(client, &second)
                let secondCode = setup.fake.code(
                    for: try await setup.fake.sign(setup.fake.claims(nonce: again.nonce, now: setup.fixture.clock.now())),
                    challenge: again.challenge)
                let kept = second.cookies
                let first = try await callback(client, &second, [("code", secondCode), ("state", again.state), ("iss", fake.issuer)])
                #expect(first.status == .seeOther)
                var replay = TestBrowser()
                replay.cookies = kept
                let replayed = try await callback(client, &replay, [("code", secondCode), ("state", again.state), ("iss", fake.issuer)])
                #expect(replayed.status == .badRequest && replay.cookies["__Host-agenthost_session"] == nil)
                await #expect(throws: OIDCError.self) {
                    _ = try await OIDCProvider(
                        configuration: try #require(setup.fixture.configuration.oidcProviders.first), http: .shared,
                        clock: setup.fixture.clock, ticks: setup.fixture.clock
                    ).exchange(
                        code: secondCode, verifier: "x", redirectURI: again.redirectURI,
                        clientSecret: SecureBytes(copying: Array(fake.clientSecret.utf8)))
                }
            }
        }
    }

    @Test func badIDTokensAreRefusedWithAPageThatSaysWhy() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            try await withProvider(fake) { setup, client in
                let now = setup.fixture.clock.now()
                let cases: [(String, String, (inout FakeOIDCProvider.Claims) -> Void)] = [
                    ("es-1", "(aud)", { $0.aud = ["another-client"] }),
                    ("es-1", "(exp)", { $0.exp = now - 120 }),
                    ("rogue", "does not publish", { _ in }),
                    ("rs-1", "nonce", { $0.nonce = "another" }),
                ]
                for (kid, text, change) in cases {
                    var browser = TestBrowser()
                    let response = try await signIn(setup, client, &browser, kid: kid, change: change)
                    #expect(response.status == .unauthorized, "\(text)")
                    #expect(String(buffer: response.body).contains(text), "\(text)")
                    #expect(browser.cookies["__Host-agenthost_session"] == nil)
                }
                #expect(try await setup.store.users().isEmpty)
            }
        }
    }

    @Test func aSignedInUserLinksAProviderAndThenSignsInWithIt() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            try await withProvider(fake, change: { $0.createUsers = false }) { setup, client in
                // Without a link, and with users not created, a person is refused.
                var stranger = TestBrowser()
                let refused = try await signIn(setup, client, &stranger)
                #expect(refused.status == .forbidden && String(buffer: refused.body).contains("not linked"))
                // Carol signs in with her password and links the provider from her sessions page.
                #expect(try await setup.accounts.addUser(username: "carol", role: "member", password: "correct horse battery"))
                var browser = TestBrowser()
                let form = try await client.execute(uri: "/auth/sign-in", method: .get, headers: browser.cookieHeader) { $0 }
                browser.absorb(form)
                let page = String(buffer: form.body)
                var headers = browser.cookieHeader
                headers[.contentType] = "application/x-www-form-urlencoded"
                let body = TestBrowser.form([
                    ("csrf", TestBrowser.field("csrf", in: page) ?? ""), ("password", "correct horse battery"),
                    ("rd", TestBrowser.field("rd", in: page) ?? ""), ("seal", TestBrowser.field("seal", in: page) ?? ""),
                    ("username", "carol"),
                ])
                browser.absorb(try await client.execute(uri: "/auth/sign-in", method: .post, headers: headers, body: body) { $0 })
                let sessions = try await client.execute(uri: "/auth/sessions", method: .get, headers: browser.cookieHeader) {
                    String(buffer: $0.body)
                }
                let link = try #require(
                    sessions.range(of: #"href="/auth/oidc/fake/link?csrf="#).map { range in
                        String(sessions[range.lowerBound...].dropFirst(6).prefix { $0 != "\"" })
                    })
                // Without the page's token the link is refused.
                let forged = try await client.execute(uri: "/auth/oidc/fake/link?csrf=x", method: .get, headers: browser.cookieHeader) {
                    $0
                }
                #expect(forged.status == .forbidden)
                let started = try await client.execute(uri: TestBrowser.unescape(link), method: .get, headers: browser.cookieHeader) { $0 }
                #expect(started.status == .seeOther)
                browser.absorb(started)
                let query = Dictionary(
                    uniqueKeysWithValues: (URLComponents(string: started.headers[.location] ?? "")?.queryItems ?? []).map {
                        ($0.name, $0.value ?? "")
                    })
                let claims = setup.fake.claims(nonce: query["nonce"] ?? "", now: setup.fixture.clock.now(), sub: "carol-at-fake")
                let code = setup.fake.code(for: try await setup.fake.sign(claims), challenge: query["code_challenge"] ?? "")
                let linked = try await callback(client, &browser, [("code", code), ("state", query["state"] ?? ""), ("iss", fake.issuer)])
                #expect(linked.status == .seeOther && linked.headers[.location] == "/auth/sessions")
                #expect(try await setup.store.identityLink(provider: "fake", subject: "carol-at-fake")?.username == "carol")
                let listed = try await client.execute(uri: "/auth/sessions", method: .get, headers: browser.cookieHeader) {
                    String(buffer: $0.body)
                }
                #expect(listed.contains(#"<ul class="links" id="links">"#) && listed.contains("alice@example.com"))
                // Now the provider signs her in as carol, with the provider's role.
                var elsewhere = TestBrowser()
                let viaProvider = try await signIn(setup, client, &elsewhere) { $0.sub = "carol-at-fake" }
                #expect(viaProvider.status == .seeOther && elsewhere.cookies["__Host-agenthost_session"] != nil)
            }
        }
    }

    @Test func aRoleThatNeedsASecondFactorAsksForItAfterTheProvider() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            try await withProvider(fake, secondFactorRoles: ["admin"]) { setup, client in
                var browser = TestBrowser()
                let asked = try await signIn(setup, client, &browser) { $0.groups = ["admins"] }
                #expect(asked.status == .ok && String(buffer: asked.body).contains("Set up a second factor"))
                #expect(browser.cookies["__Host-agenthost_pending"] != nil && browser.cookies["__Host-agenthost_signin"] != nil)
                #expect(browser.cookies["__Host-agenthost_session"] == nil && browser.cookies["__Host-agenthost_oidc"] == nil)
                // The page's form is bound to this browser: its token and seal check out at the next step.
                let page = String(buffer: asked.body)
                let code = try #require(TestBrowser.field("csrf", in: page))
                #expect(
                    try #require(setup.fixture.components.forms).checkCSRF(
                        code, for: try #require(browser.cookies["__Host-agenthost_signin"])))
            }
        }
    }

    @Test func withPasswordsOffOnlyTheButtonsRemain() async throws {
        let fake = try await FakeOIDCProvider()
        try await fake.run {
            var provider = OIDCProviderConfiguration(
                name: "fake", issuer: fake.issuer, clientID: fake.clientID, defaultRole: try Role("viewer"))
            provider.label = "Sign in with Fake"
            var portal = PortalConfiguration()
            portal.passwordSignIn = false
            let (fixture, store, accounts) = try await HostFixture.withAccounts(
                trustedProxies: ["127.0.0.1"], portal: portal, oidcProviders: [provider])
            #expect(try await accounts.addUser(username: "dave", role: "member", password: "correct horse battery"))
            try await fixture.application().test(.live) { client in
                let page = try await client.execute(uri: "/auth/sign-in", method: .get) { String(buffer: $0.body) }
                #expect(page.contains("Sign in with Fake") && !page.contains(#"id="password""#))
                let posted = try await client.execute(
                    uri: "/auth/sign-in", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: TestBrowser.form([("username", "dave"), ("password", "correct horse battery")])
                ) { $0.status }
                #expect(posted == .forbidden)
            }
            try await store.close()
        }
    }
}
