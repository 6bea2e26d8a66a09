import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import AgentHost
import SecurityCore
import SecurityStore
import Testing

/// Passkeys at the portal over a live server on 127.0.0.1, with ``SoftwareAuthenticator`` as the
/// authenticator and the test as the browser: adding one, signing in with it alone and as the
/// second factor, renaming and removing, and the answers that must be refused (replayed, a
/// counter held back, another origin, no user verification, another user's passkey).
/// Tests/Browser/passkeys.py does the same with Chromium's virtual authenticator.
struct PasskeyTests {
    let password = "correct horse battery"
    static let host = "portal.example.com"
    static let origin = "https://portal.example.com"

    /// A live server whose portal is at `origin`, alice and bob members; `body` runs against it.
    func withPasskeys(
        secondFactorRoles: [String] = [],
        _ body: @Sendable (HostFixture, SQLSecurityStore, AccountService, any TestClientProtocol) async throws -> Void
    ) async throws {
        var portal = PortalConfiguration(publicURL: Self.origin, protectedHosts: ["app.example.com"])
        portal.secondFactorRoles = secondFactorRoles
        let (fixture, store, accounts) = try await HostFixture.withAccounts(trustedProxies: ["127.0.0.1", "::1"], portal: portal)
        #expect(try await accounts.addUser(username: "alice", role: "member", password: password))
        #expect(try await accounts.addUser(username: "bob", role: "member", password: password))
        do {
            try await fixture.application().test(.live) { client in try await body(fixture, store, accounts, client) }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// A browser at the portal's https origin, behind the trusted proxy.
    static func browser() -> TestBrowser {
        var browser = TestBrowser()
        browser.headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
        browser.headers[HTTPField.Name("X-Forwarded-Host")!] = host
        return browser
    }

    /// The sign-in page's form fields (csrf, rd, seal), and the page.
    func signInPage(_ client: some TestClientProtocol, _ browser: inout TestBrowser) async throws -> (
        fields: [String: String], page: String
    ) {
        let response = try await client.execute(uri: "/auth/sign-in", method: .get, headers: browser.cookieHeader) { $0 }
        browser.absorb(response)
        let page = String(buffer: response.body)
        var fields: [String: String] = [:]
        for name in ["csrf", "rd", "seal"] { fields[name] = TestBrowser.field(name, in: page) ?? "" }
        return (fields, page)
    }

    /// Signs in with the password; the answer (a redirect, or the second factor's page).
    func signInWithPassword(_ client: some TestClientProtocol, _ browser: inout TestBrowser, as username: String) async throws
        -> TestResponse
    {
        let (fields, _) = try await signInPage(client, &browser)
        var headers = browser.cookieHeader
        headers[.contentType] = "application/x-www-form-urlencoded"
        let body = TestBrowser.form(fields.map { ($0.key, $0.value) } + [("username", username), ("password", password)])
        let response = try await client.execute(uri: "/auth/sign-in", method: .post, headers: headers, body: body) { $0 }
        browser.absorb(response)
        return response
    }

    /// Posts `fields` as JSON, as passkey.js does.
    func post(_ client: some TestClientProtocol, _ browser: inout TestBrowser, _ path: String, _ fields: [String: String]) async throws
        -> TestResponse
    {
        var headers = browser.cookieHeader
        headers[.contentType] = "application/json"
        let body = JSONValue.object(fields.mapValues { .string($0) }).json
        let response = try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { $0 }
        browser.absorb(response)
        return response
    }

    /// A ceremony's options: its challenge, and the whole `publicKey` object.
    func options(_ client: some TestClientProtocol, _ browser: inout TestBrowser, _ purpose: String, csrf: String) async throws
        -> (challenge: String, publicKey: JSONValue)
    {
        let response = try await post(client, &browser, "/auth/passkeys/options", ["purpose": purpose, "csrf": csrf])
        #expect(response.status == .ok, "options for \(purpose): \(String(buffer: response.body))")
        let publicKey = try #require(try JSONValue.parse(Array(response.body.readableBytesView))["publicKey"])
        return (publicKey["challenge"]?.stringValue ?? "", publicKey)
    }

    /// Signs `username` in with the password and adds `authenticator`'s passkey from the sessions
    /// page; the user handle the options named.
    func register(
        _ client: some TestClientProtocol, _ authenticator: inout SoftwareAuthenticator, for username: String, name: String = "Laptop"
    ) async throws -> String {
        var browser = Self.browser()
        _ = try await signInWithPassword(client, &browser, as: username)
        let page = try await client.execute(uri: "/auth/sessions", method: .get, headers: browser.cookieHeader) { String(buffer: $0.body) }
        #expect(page.contains(#"data-passkey="register""#) && page.contains(#"<script src="/auth/passkey.js" defer>"#))
        let csrf = try #require(TestBrowser.field("csrf", in: page))
        let (challenge, publicKey) = try await options(client, &browser, "register", csrf: csrf)
        #expect(publicKey["rp"]?["id"]?.stringValue == Self.host && publicKey["attestation"]?.stringValue == "none")
        let made = authenticator.register(challenge: challenge)
        let added = try await post(
            client, &browser, "/auth/passkeys/register",
            [
                "csrf": csrf, "name": name, "id": authenticator.credentialIDText, "clientDataJSON": made.clientDataJSON,
                "attestationObject": made.attestationObject,
            ])
        #expect(added.status == .created, "register: \(String(buffer: added.body))")
        return publicKey["user"]?["id"]?.stringValue ?? ""
    }

    /// Begins a passwordless sign-in in a fresh browser: the browser, its form fields, and the challenge.
    func beginPasswordless(_ client: some TestClientProtocol) async throws -> (TestBrowser, [String: String], String) {
        var browser = Self.browser()
        let (fields, page) = try await signInPage(client, &browser)
        #expect(page.contains(#"data-passkey="sign-in""#))
        let (challenge, publicKey) = try await options(client, &browser, "sign-in", csrf: fields["csrf"] ?? "")
        #expect(publicKey["userVerification"]?.stringValue == "required" && publicKey["rpId"]?.stringValue == Self.host)
        return (browser, fields, challenge)
    }

    @Test func aPasskeyIsAddedAndThenSignsInAlone() async throws {
        try await withPasskeys { fixture, store, _, client in
            var authenticator = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            let handle = try await register(client, &authenticator, for: "alice")
            let stored = try await store.passkeys(of: "alice")
            #expect(stored.map(\.name) == ["Laptop"] && stored.first?.id == authenticator.credentialIDText && stored.first?.algorithm == -8)

            var (browser, fields, challenge) = try await beginPasswordless(client)
            var answer = authenticator.assert(challenge: challenge)
            answer["userHandle"] = handle
            let before = browser
            let signedIn = try await post(client, &browser, "/auth/passkeys/sign-in", fields.merging(answer) { $1 })
            #expect(signedIn.status == .ok, "sign-in: \(String(buffer: signedIn.body))")
            #expect(browser.cookies["__Host-agenthost_session"] != nil && browser.cookies["__Host-agenthost_webauthn"] == nil)
            let redirect = try JSONValue.parse(Array(signedIn.body.readableBytesView))["redirect"]?.stringValue
            #expect(redirect == "/auth/sessions")
            let sessions = try await client.execute(uri: "/auth/sessions", method: .get, headers: browser.cookieHeader) {
                String(buffer: $0.body)
            }
            #expect(sessions.contains("Signed in as <strong>alice</strong>") && sessions.contains("last used"))
            try await fixture.components.audit?.flush()
            let records = try await store.auditRecords(after: 0, limit: 200, actor: nil, action: nil).map(\.event)
            #expect(records.contains { $0.action == "user.signed_in" && $0.details["method"] == "passkey" })
            #expect(records.contains { $0.action == "passkey.added" && $0.actor == "user:alice" })

            // The same answer again, with the cookies it came with: the challenge is spent.
            var replaying = before
            let replayed = try await post(client, &replaying, "/auth/passkeys/sign-in", fields.merging(answer) { $1 })
            #expect(replayed.status == .unauthorized && String(buffer: replayed.body).contains("used already"))
            #expect(replaying.cookies["__Host-agenthost_session"] == nil)
        }
    }

    @Test func answersThatMustNotSignInAreRefused() async throws {
        try await withPasskeys { _, _, _, client in
            var authenticator = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            _ = try await register(client, &authenticator, for: "alice")
            let registered = authenticator.credentialIDText
            func attempt(_ change: (inout SoftwareAuthenticator, String) -> [String: String]) async throws -> (TestResponse, TestBrowser) {
                var (browser, fields, challenge) = try await beginPasswordless(client)
                let answer = change(&authenticator, challenge)
                let response = try await post(client, &browser, "/auth/passkeys/sign-in", fields.merging(answer) { $1 })
                return (response, browser)
            }
            // A copied key: the counter does not go up.
            let held = authenticator.counter
            let (copied, copiedBrowser) = try await attempt { $0.assert(challenge: $1, counter: held) }
            #expect(copied.status == .unauthorized && String(buffer: copied.body).contains("counter did not go up"))
            #expect(copiedBrowser.cookies["__Host-agenthost_session"] == nil)
            // Made for another site: the origin in the client data is not the portal's.
            let (otherOrigin, _) = try await attempt { authenticator, challenge in
                authenticator.origin = "https://evil.example"
                defer { authenticator.origin = Self.origin }
                return authenticator.assert(challenge: challenge)
            }
            #expect(otherOrigin.status == .unauthorized && String(buffer: otherOrigin.body).contains("origin"))
            // A credential scoped to another relying party.
            var elsewhere = SoftwareAuthenticator(relyingParty: "evil.example", origin: Self.origin)
            let (otherParty, _) = try await attempt { _, challenge in
                var answer = elsewhere.assert(challenge: challenge)
                answer["id"] = registered
                return answer
            }
            #expect(otherParty.status == .unauthorized && String(buffer: otherParty.body).contains("another relying party"))
            // Alone, a passkey must verify the user.
            let (unverified, _) = try await attempt { $0.assert(challenge: $1, userVerified: false) }
            #expect(unverified.status == .unauthorized && String(buffer: unverified.body).contains("not verified"))
            // An unknown credential, and a signature by another key.
            var stranger = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            let (unknown, _) = try await attempt { _, challenge in stranger.assert(challenge: challenge) }
            #expect(unknown.status == .unauthorized && String(buffer: unknown.body).contains("not registered"))
            let (forged, _) = try await attempt { _, challenge in
                var answer = stranger.assert(challenge: challenge)
                answer["id"] = registered
                return answer
            }
            #expect(forged.status == .unauthorized && String(buffer: forged.body).contains("signature"))
            // The honest authenticator still gets in: none of the above moved its counter.
            let (honest, honestBrowser) = try await attempt { $0.assert(challenge: $1) }
            #expect(honest.status == .ok && honestBrowser.cookies["__Host-agenthost_session"] != nil)
        }
    }

    @Test func theJSONRoutesRefuseOtherSitesAndOtherBodies() async throws {
        try await withPasskeys { _, _, _, client in
            var browser = Self.browser()
            let (fields, _) = try await signInPage(client, &browser)
            // No token: refused.
            let noToken = try await post(client, &browser, "/auth/passkeys/options", ["purpose": "sign-in", "csrf": "x"])
            #expect(noToken.status == .forbidden)
            // Another site's page.
            var crossSite = browser
            crossSite.headers[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            let fromElsewhere = try await post(
                client, &crossSite, "/auth/passkeys/options", ["purpose": "sign-in", "csrf": fields["csrf"] ?? ""])
            #expect(fromElsewhere.status == .forbidden)
            // A form post (what a cross-site <form> can send) is not JSON.
            var headers = browser.cookieHeader
            headers[.contentType] = "text/plain"
            let plain = try await client.execute(
                uri: "/auth/passkeys/sign-in", method: .post, headers: headers, body: ByteBuffer(string: #"{"csrf":"x"}"#)
            ) { $0 }
            #expect(plain.status == .unsupportedMediaType)
            // Registering needs a session.
            let anonymous = try await post(
                client, &browser, "/auth/passkeys/options", ["purpose": "register", "csrf": fields["csrf"] ?? ""])
            #expect(anonymous.status == .forbidden)
            // The script is served from the portal, and the pages allow it and nothing inline.
            let script = try await client.execute(uri: "/auth/passkey.js", method: .get) { $0 }
            #expect(script.status == .ok && script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            let page = try await client.execute(uri: "/auth/sign-in", method: .get, headers: browser.cookieHeader) { $0 }
            let policy = page.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
            #expect(policy.contains("script-src 'self';") && !policy.contains("unsafe-inline"))
        }
    }

    @Test func aPasskeyIsTheSecondFactorAfterThePassword() async throws {
        try await withPasskeys { _, _, _, client in
            var alices = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            _ = try await register(client, &alices, for: "alice")
            var bobs = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            _ = try await register(client, &bobs, for: "bob")
            // Alice has a passkey now, so her password leads to it (and to no code: she has no TOTP).
            var browser = Self.browser()
            let asked = try await signInWithPassword(client, &browser, as: "alice")
            let page = String(buffer: asked.body)
            #expect(asked.status == .ok && page.contains(#"data-passkey="second-factor""#) && !page.contains(#"name="code""#))
            let csrf = try #require(TestBrowser.field("csrf", in: page))
            var fields = ["csrf": csrf, "rd": TestBrowser.field("rd", in: page) ?? "", "seal": TestBrowser.field("seal", in: page) ?? ""]
            var (challenge, publicKey) = try await options(client, &browser, "second-factor", csrf: csrf)
            guard case .array(let allowed)? = publicKey["allowCredentials"] else {
                Issue.record("second-factor options without allowCredentials")
                return
            }
            #expect(allowed.map { $0["id"]?.stringValue } == [alices.credentialIDText])
            // Bob's passkey is not Alice's second factor.
            let wrong = try await post(client, &browser, "/auth/passkeys/sign-in", fields.merging(bobs.assert(challenge: challenge)) { $1 })
            #expect(wrong.status == .unauthorized && browser.cookies["__Host-agenthost_session"] == nil)
            // Hers, without user verification (the password was the other factor).
            (challenge, publicKey) = try await options(client, &browser, "second-factor", csrf: csrf)
            fields.merge(alices.assert(challenge: challenge, userVerified: false)) { $1 }
            let signedIn = try await post(client, &browser, "/auth/passkeys/sign-in", fields)
            #expect(signedIn.status == .ok, "second factor: \(String(buffer: signedIn.body))")
            #expect(browser.cookies["__Host-agenthost_session"] != nil && browser.cookies["__Host-agenthost_pending"] == nil)
            // Without the password step, the same purpose has no sign-in to finish.
            var stranger = Self.browser()
            let (strangerFields, _) = try await signInPage(client, &stranger)
            let none = try await post(
                client, &stranger, "/auth/passkeys/options", ["purpose": "second-factor", "csrf": strangerFields["csrf"] ?? ""])
            #expect(none.status == .unauthorized)
        }
    }

    /// A user whose only second factor is a passkey, at an address where passkeys cannot work (an
    /// IP address), is told so rather than shown an empty step.
    @Test func aPasskeyOnlyUserAtAnIPAddressIsToldWhy() {
        let portal = PortalConfiguration()
        let page = PortalPage.secondFactor(portal, csrf: "c", returnURL: "", seal: "s", enrolment: nil, totp: false, passkey: false)
        #expect(page.contains("cannot be used at this address") && !page.contains(#"name="code""#))
        let offered = PortalPage.secondFactor(portal, csrf: "c", returnURL: "", seal: "s", enrolment: nil, totp: true, passkey: true)
        #expect(offered.contains(#"data-passkey="second-factor""#) && offered.contains(#"name="code""#))
        #expect(offered.contains(#"<script src="/auth/passkey.js" defer></script>"#))
    }

    @Test func passkeysAreRenamedAndTheLastFactorARoleNeedsIsKept() async throws {
        try await withPasskeys(secondFactorRoles: ["admin"]) { _, store, accounts, client in
            var laptop = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            _ = try await register(client, &laptop, for: "alice")
            // Alice becomes an admin, whose role needs a second factor: her passkey is her only one.
            #expect(try await accounts.setRole(username: "alice", role: "admin"))
            var browser = Self.browser()
            let asked = try await signInWithPassword(client, &browser, as: "alice")
            let askedPage = String(buffer: asked.body)
            let csrf = try #require(TestBrowser.field("csrf", in: askedPage))
            let (challenge, _) = try await options(client, &browser, "second-factor", csrf: csrf)
            let fields = [
                "csrf": csrf, "rd": TestBrowser.field("rd", in: askedPage) ?? "", "seal": TestBrowser.field("seal", in: askedPage) ?? "",
            ]
            let signedIn = try await post(
                client, &browser, "/auth/passkeys/sign-in", fields.merging(laptop.assert(challenge: challenge, userVerified: false)) { $1 })
            #expect(signedIn.status == .ok)

            func form(_ path: String, _ fields: [(String, String)], site: String = "same-origin") async throws -> TestResponse {
                var headers = browser.cookieHeader
                headers[HTTPField.Name("Sec-Fetch-Site")!] = site
                headers[.contentType] = "application/x-www-form-urlencoded"
                return try await client.execute(uri: path, method: .post, headers: headers, body: TestBrowser.form(fields)) { $0 }
            }
            let page = try await client.execute(uri: "/auth/sessions", method: .get, headers: browser.cookieHeader) {
                String(buffer: $0.body)
            }
            let token = try #require(TestBrowser.field("csrf", in: page))
            let id = laptop.credentialIDText
            // Renamed; a name with a control character is refused; another site's form is refused.
            #expect(try await form("/auth/passkeys/rename", [("csrf", token), ("id", id), ("name", "Work laptop")]).status == .seeOther)
            #expect(try await form("/auth/passkeys/rename", [("csrf", token), ("id", id), ("name", "a\u{7}b")]).status == .badRequest)
            #expect(
                try await form("/auth/passkeys/remove", [("csrf", token), ("id", id)], site: "cross-site").status == .forbidden)
            #expect(try await store.passkeys(of: "alice").map(\.name) == ["Work laptop"])
            // The last factor of an admin stays.
            let kept = try await form("/auth/passkeys/remove", [("csrf", token), ("id", id)])
            #expect(kept.status == .conflict && String(buffer: kept.body).contains("last second factor"))
            // With a second passkey, the first may go; another user's id is not hers to remove.
            var phone = SoftwareAuthenticator(relyingParty: Self.host, origin: Self.origin)
            let (registerChallenge, _) = try await options(client, &browser, "register", csrf: token)
            let made = phone.register(challenge: registerChallenge)
            let added = try await post(
                client, &browser, "/auth/passkeys/register",
                [
                    "csrf": token, "name": "Phone", "id": phone.credentialIDText, "clientDataJSON": made.clientDataJSON,
                    "attestationObject": made.attestationObject,
                ])
            #expect(added.status == .created)
            #expect(try await form("/auth/passkeys/remove", [("csrf", token), ("id", "bm8tc3VjaA")]).status == .notFound)
            #expect(try await form("/auth/passkeys/remove", [("csrf", token), ("id", id)]).status == .seeOther)
            #expect(try await store.passkeys(of: "alice").map(\.name) == ["Phone"])
            let listed = try await client.execute(uri: "/auth/sessions", method: .get, headers: browser.cookieHeader) {
                String(buffer: $0.body)
            }
            #expect(listed.contains("Phone") && !listed.contains("Work laptop"))
        }
    }
}
