import SecurityCore
import Testing

/// The browser-facing parsers and tokens: the `Cookie` header, form bodies, the session cookie's
/// attributes, the CSRF token and return-URL seal, and session activity.
struct BrowserFormsTests {
    // MARK: Cookie header

    @Test func cookiePairsAreReadAsBrowsersSendThem() {
        let pairs = CookieHeader.pairs(#" a=1; b = two ;c="quoted value";flag; =nameless; d=x=y;;e="#)
        #expect(pairs.map { "\($0.name)=\($0.value)" } == ["a=1", "b=two", "c=quoted value", "d=x=y", "e="])
    }

    @Test func aCookieSentTwiceIsAmbiguousNeverResolvedByOrder() {
        #expect(CookieHeader.value(named: "s", in: ["a=1; s=one"]) == .one("one"))
        #expect(CookieHeader.value(named: "s", in: ["a=1", "s=one"]) == .one("one"))
        #expect(CookieHeader.value(named: "s", in: ["s=one; s=two"]) == .ambiguous)
        #expect(CookieHeader.value(named: "s", in: ["s=one", "s=two"]) == .ambiguous)
        #expect(CookieHeader.value(named: "s", in: ["S=one; xs=2; s_=3"]) == CookieHeader.Lookup.none)
        #expect(CookieHeader.value(named: "s", in: [String]()) == CookieHeader.Lookup.none)
    }

    /// Names are compared as bytes and split on the byte `;`: U+037E GREEK QUESTION MARK is
    /// canonically equivalent to `;` and a decomposed `é` to the composed one, so `String`'s `==`
    /// would call them equal (the cookie-header fuzzer met the first).
    @Test func namesAreComparedAsBytesNotAsCanonicallyEquivalentText() {
        let pairs = CookieHeader.pairs("a\u{37E}b=1; c=2")
        #expect(pairs.count == 2)
        #expect(pairs.first.map { Array($0.name.utf8) } == Array("a\u{37E}b".utf8))
        #expect(CookieHeader.value(named: "\u{E9}", in: ["e\u{301}=decomposed"]) == CookieHeader.Lookup.none)
        #expect(CookieHeader.value(named: "\u{E9}", in: ["\u{E9}=composed"]) == .one("composed"))
    }

    @Test func aCookieHeaderPastItsBudgetIsNotRead() {
        let padding = "p=" + String(repeating: "x", count: CookieHeader.maximumBytes)
        #expect(CookieHeader.value(named: "s", in: [padding, "s=late"]) == CookieHeader.Lookup.none)
        #expect(CookieHeader.value(named: "s", in: ["s=early", padding]) == .one("early"))
    }

    // MARK: Form bodies

    @Test func aFormBodyIsDecodedAsBrowsersEncodeIt() throws {
        let form = try FormBody(parsing: Array("user=al%C3%AFce&password=a+b%2Bc%26d%3D&empty=&flag&&rd=https%3A%2F%2Fx.example%2F".utf8))
        #expect(form["user"] == "alïce")
        #expect(form["password"] == "a b+c&d=")
        #expect(form["empty"] == "" && form["flag"] == "")
        #expect(form["rd"] == "https://x.example/")
        #expect(form["missing"] == nil)
        #expect(form.fields.map(\.name) == ["user", "password", "empty", "flag", "rd"])
        #expect(try FormBody(parsing: [UInt8]()).fields.isEmpty)
    }

    @Test(arguments: ["a=%", "a=%4", "a=%zz", "a=%C3", "%FF=1", "a=%C3%28"])
    func aBrokenEscapeOrBytesThatAreNotUTF8AreRefused(body: String) {
        #expect(throws: BrowserError.self) { try FormBody(parsing: Array(body.utf8)) }
        let error = try? #require(throws: BrowserError.self) { try FormBody(parsing: Array(body.utf8)) }
        #expect(error?.code == .malformedForm)
    }

    @Test func aFieldSentTwiceOrTooMuchIsRefused() {
        let twice = #expect(throws: BrowserError.self) { try FormBody(parsing: Array("csrf=a&csrf=b".utf8)) }
        #expect(twice?.code == .duplicateField)
        let many = (0..<17).map { "f\($0)=1" }.joined(separator: "&")
        #expect((#expect(throws: BrowserError.self) { try FormBody(parsing: Array(many.utf8)) })?.code == .formTooLarge)
        let long = "a=" + String(repeating: "x", count: FormBody.defaultMaximumBytes)
        #expect((#expect(throws: BrowserError.self) { try FormBody(parsing: Array(long.utf8)) })?.code == .formTooLarge)
        // The reason never repeats what was sent.
        let secret = #expect(throws: BrowserError.self) { try FormBody(parsing: Array("password=hunter2%zz".utf8)) }
        #expect(secret.map { !"\($0)".contains("hunter2") } == true)
    }

    @Test(arguments: ["plain", "with space", "a+b&c=d%", "https://x.example/p?q=1#f", "ünïcödé ✓", ""])
    func encodingThenParsingGivesTheTextBack(text: String) throws {
        let form = try FormBody(parsing: Array(("v=" + FormBody.encode(text)).utf8))
        #expect(form["v"] == text)
    }

    // MARK: Session cookie

    @Test func theCookieIsHostOnlyUnlessADomainIsGiven() throws {
        let host = try SessionCookie(baseName: "agenthost_session")
        #expect(host.name == "__Host-agenthost_session" && host.domain == nil)
        #expect(
            host.setting("ahb1.abc", maxAge: 60) == "__Host-agenthost_session=ahb1.abc; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax")
        #expect(host.clearing() == "__Host-agenthost_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
        let shared = try SessionCookie(baseName: "agenthost_session", domain: ".Example.COM")
        #expect(shared.name == "__Secure-agenthost_session" && shared.domain == "example.com")
        #expect(
            shared.setting("v", maxAge: nil) == "__Secure-agenthost_session=v; Path=/; Domain=example.com; Secure; HttpOnly; SameSite=Lax")
    }

    @Test(arguments: [
        "10.0.0.1", "127.0.0.1", "::1", "[::1]", "localhost", "com", "example", "", ".", "-bad.example", "bad-.example", "a..example",
        "exa mple.com", "éxample.com", "example.com/x", "1.2.3.4.5", "example.123",
    ])
    func aCookieDomainThatIsAnAddressOrOneLabelIsRefused(domain: String) {
        let error = #expect(throws: BrowserError.self) { try SessionCookie.checkDomain(domain) }
        #expect(error?.code == .invalidCookieDomain, "\(domain)")
    }

    @Test(arguments: ["example.com", "apps.example.co.uk", "a-b.example", "x1.example.org"])
    func aCookieDomainOfTwoLabelsOrMoreIsKept(domain: String) throws {
        #expect(try SessionCookie.checkDomain(domain) == domain)
    }

    // MARK: CSRF token and return-URL seal

    @Test func theCSRFTokenAndTheSealHoldOnlyForTheirBrowserAndURL() throws {
        let secret = SecureBytes(copying: (0..<32).map { UInt8($0) })
        let forms = try FormProtection(secret: secret)
        let other = try FormProtection(secret: SecureBytes(copying: (0..<32).map { UInt8(255 - $0) }))
        let browser = FormProtection.newBinding(), stranger = FormProtection.newBinding()
        #expect(browser.utf8.count == 22 && browser != stranger)

        let csrf = forms.csrfToken(for: browser)
        #expect(forms.checkCSRF(csrf, for: browser))
        #expect(try FormProtection(secret: secret).checkCSRF(csrf, for: browser), "another server with the same secret")
        #expect(!forms.checkCSRF(csrf, for: stranger))
        #expect(!other.checkCSRF(csrf, for: browser))
        #expect(!forms.checkCSRF(nil, for: browser) && !forms.checkCSRF("", for: browser) && !forms.checkCSRF("not base64!", for: browser))
        #expect(!forms.checkCSRF(String(csrf.dropLast()), for: browser))

        let url = "https://app.example.com/reports"
        let seal = forms.seal(returnURL: url, for: browser)
        #expect(forms.checkSeal(seal, returnURL: url, for: browser))
        #expect(!forms.checkSeal(seal, returnURL: "https://app.example.com/admin", for: browser))
        #expect(!forms.checkSeal(seal, returnURL: url, for: stranger))
        #expect(!forms.checkSeal(csrf, returnURL: url, for: browser), "a CSRF token is not a seal")
        // Fields are length-prefixed: moving a boundary changes the MAC.
        #expect(forms.seal(returnURL: "b" + url, for: "a") != forms.seal(returnURL: url, for: "ab"))
    }

    // MARK: Session activity

    @Test func activityIsKeptReportedAndTakenInFromOtherServers() throws {
        let activity = SessionActivity()
        let one = try TokenID.random(), two = try TokenID.random(), three = try TokenID.random()
        activity.touch(one, at: 100)
        activity.touch(one, at: 100)
        activity.touch(one, at: 90)
        #expect(activity.lastSeen(one) == 100)
        activity.touch(two, at: 105)
        #expect(activity.takeSeen() == [one: 100, two: 105])
        #expect(activity.takeSeen().isEmpty)
        // What the store could not take is handed over next time.
        activity.touch(one, at: 110)
        let seen = activity.takeSeen()
        activity.putBack(seen)
        #expect(activity.takeSeen() == [one: 110])
        // Another server saw `two` later and `three` only there; `one` was idle long enough to forget.
        activity.merge([two: 150, three: 140], forgetBefore: 120)
        #expect(activity.lastSeen(one) == nil && activity.lastSeen(two) == 150 && activity.lastSeen(three) == 140)
        activity.forget(two)
        #expect(activity.lastSeen(two) == nil && activity.count == 1)
    }

    @Test func aSessionIsUsableWithinItsIdleTimeoutAndEachUseMovesIt() throws {
        let activity = SessionActivity()
        let id = try TokenID.random()
        #expect(activity.use(id, begunAt: 1_000, at: 1_600, idleTimeout: 600), "600 s after it began")
        #expect(activity.lastSeen(id) == 1_600 && activity.takeSeen() == [id: 1_600])
        #expect(activity.use(id, begunAt: 1_000, at: 2_200, idleTimeout: 600), "600 s after its last use")
        #expect(!activity.use(id, begunAt: 1_000, at: 2_801, idleTimeout: 600), "601 s idle")
        #expect(activity.lastSeen(id) == 2_200, "a refused use moves nothing")
        // Another server's report counts as a use.
        activity.merge([id: 2_700], forgetBefore: 0)
        #expect(activity.use(id, begunAt: 1_000, at: 3_000, idleTimeout: 600))
        #expect(!activity.use(try TokenID.random(), begunAt: 1_000, at: 1_601, idleTimeout: 600), "never used, begun too long ago")
    }

    // MARK: Browser session tokens

    @Test func aBrowserSessionTokenIsItsOwnKindAndNeverAnAgentToken() throws {
        let agents = try TokenFixture()
        let browsers = try TokenFixture(policy: try TokenPolicy(audience: "agenthost-browser", kind: .browserSession))
        let session = try browsers.mint(agent: "alice", role: "member")
        #expect(session.token.hasPrefix("ahb1."))
        #expect(CredentialKind.browserSession.occurs(in: "cookie: " + session.token))
        #expect(try browsers.verifier.verify(session.token).agent.rawValue == "alice")
        #expect(throws: TokenError.self) { try agents.verifier.verify(session.token) }
        // The same bytes behind the agent-token prefix are still refused: the audience decides.
        let relabelled = "ah1." + session.token.dropFirst(5)
        #expect(throws: TokenError.self) { try agents.verifier.verify(relabelled) }
        #expect(throws: TokenError.self) { try browsers.verifier.verify(try agents.mint().token) }
        // The redactor masks it by its shape.
        #expect(!SecretRedactor().redact("Cookie: __Host-agenthost_session=" + session.token).contains(String(session.token.suffix(20))))
    }

    @Test func aSessionCookieCountsOnlyOnItsRoutesAndNeverBesideAnotherCredential() throws {
        let fixture = try TokenFixture()
        let cookie = CredentialLocations.NamedCookie(name: "__Host-s", routes: ["/auth/**"].compactMap(RouteMatch.init))
        struct Cookies: Authenticator {
            var kind: CredentialKind { .browserSession }
            func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
                guard case .cookie("__Host-s") = credential.source else { return .failure(AuthenticationFailure(.invalidCredential, "x")) }
                return .success(Principal(subject: .apiKey(try! AgentID("cookie")), role: try! Role("member"), team: .none))
            }
        }
        let pipeline = SecurityPipeline(
            configuration: .init(
                verifier: fixture.verifier, authenticators: [Cookies()], credentialLocations: CredentialLocations(cookie: cookie)))
        let value = "ahb1." + String(repeating: "A", count: 48)
        func outcome(_ path: String, _ headers: [HeaderField]) -> Result<Principal, Refusal> {
            pipeline.authenticate(RequestFacts(method: "GET", path: path, headers: headers, peerAddress: "10.0.0.1"))
        }
        #expect(try outcome("/auth/sessions", [HeaderField(name: "Cookie", value: "a=b; __Host-s=\(value)")]).get().id == "key:cookie")
        #expect(throws: Refusal.self) { try outcome("/api/keys", [HeaderField(name: "Cookie", value: "__Host-s=\(value)")]).get() }
        #expect(throws: Refusal.self) {
            try outcome("/auth/sessions", [HeaderField(name: "Cookie", value: "__Host-s=\(value); __Host-s=\(value)")]).get()
        }
        let both = outcome(
            "/auth/sessions",
            [
                HeaderField(name: "Cookie", value: "__Host-s=\(value)"),
                HeaderField(name: "Authorization", value: "Bearer " + (try fixture.mint().token)),
            ])
        #expect(throws: Refusal.self) { try both.get() }
        if case .failure(let refusal) = both { #expect(refusal.problem.code == "ambiguous_credentials") }
    }
}
