import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SecurityCore
import SecurityStore

/// The sign-in portal for people at a browser (Docs/SIGN_IN.md), served under `/auth/` when
/// ``AgentHostConfiguration/portal`` is set:
///
/// - `GET /auth/sign-in?rd=URL` shows the form; `POST /auth/sign-in` checks it and, with the right
///   password, sets the session cookie and sends the browser to `rd` (if `ReturnURLGuard`
///   allows it, else to the home URL).
/// - `GET /auth/sessions` lists the user's sessions; `POST /auth/sessions/end` ends one.
/// - `POST /auth/sign-out` ends this browser's session; `GET /auth/signed-out` says so.
/// - `GET /auth/portal.css`, the pages' one stylesheet.
///
/// Every form carries a CSRF token bound to the browser (the sign-in cookie before sign-in, the
/// session after), and every post must come from the portal's own origin. Failed sign-ins spend the
/// client's `auth-failures` and the account's `login-failures` budgets, as `POST /api/login` does;
/// an unknown user costs the same work and gets the same answer as a wrong password.
struct PortalRoutes: Sendable {
    static let signInPath = "/auth/sign-in"
    static let secondFactorPath = "/auth/second-factor"
    static let signOutPath = "/auth/sign-out"
    static let signedOutPath = "/auth/signed-out"
    static let sessionsPath = "/auth/sessions"
    static let endSessionPath = "/auth/sessions/end"
    static let stylesheetPath = "/auth/portal.css"
    /// The portal's pages: each checks its own cookie and form.
    static let paths =
        [signInPath, secondFactorPath, signOutPath, signedOutPath, sessionsPath, endSessionPath, stylesheetPath] + passkeyPaths
    /// Where the session cookie counts besides forward auth: the portal's own pages.
    static let cookieRoutes = ["/auth/**"].compactMap(RouteMatch.init)

    let components: AgentHost.Components

    func add(to router: Router<AgentRequestContext>) {
        guard components.browserSessions != nil else { return }
        router.get(RouterPath(Self.stylesheetPath)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: PortalPage.stylesheet)))
        }
        router.get(RouterPath(Self.signInPath)) { request, context in try await signInPage(request, context: context) }
        router.post(RouterPath(Self.signInPath)) { request, context in try await signIn(request, context: context) }
        router.post(RouterPath(Self.secondFactorPath)) { request, context in try await secondFactor(request, context: context) }
        router.get(RouterPath(Self.sessionsPath)) { request, context in try await sessionsPage(request, context: context) }
        router.post(RouterPath(Self.endSessionPath)) { request, context in try await endSession(request, context: context) }
        router.post(RouterPath(Self.signOutPath)) { request, context in try await signOut(request, context: context) }
        router.get(RouterPath(Self.signedOutPath)) { request, context in
            page(.ok, PortalPage.signedOut(portal), browser(request, context))
        }
        addSingleSignOn(to: router)
        addPasskeys(to: router)
    }

    var portal: PortalConfiguration { components.browserSessions?.portal ?? PortalConfiguration() }

    // MARK: Signing in

    private func signInPage(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard browser.mayHoldCookie else { return insecure(browser) }
        guard let forms = components.forms else { return unavailable(browser) }
        let destination = returnGuard(browser).destination(for: request.uri.queryParameters["rd"].map(String.init))
        return signInForm(browser, forms: forms, returnURL: destination, status: .ok)
    }

    private func signIn(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard browser.mayHoldCookie else { return insecure(browser) }
        guard let sessions = components.browserSessions, let accounts = components.accounts, let forms = components.forms else {
            return unavailable(browser)
        }
        let client = browser.client?.description ?? "-"
        guard portal.passwordSignIn else {
            return page(
                .forbidden,
                PortalPage.message(
                    portal, title: "Password sign-in is off", text: "Sign in with one of the providers on the sign-in page.",
                    link: (Self.signInPath, "Sign in")), browser)
        }
        guard browser.isSameOrigin(publicURL: portal.publicURL) else {
            return refusedForm(browser, context, action: "sign_in.refused", reason: "cross-site")
        }
        guard let form = try await readForm(request) else {
            return refusedForm(browser, context, action: "sign_in.refused", reason: "malformed form")
        }
        guard case .one(let bindingText) = browser.cookie(PortalConfiguration.signInCookie.name) else {
            // No sign-in cookie: the form is older than its cookie, or was not shown to this browser.
            return signInForm(
                browser, forms: forms, returnURL: returnGuard(browser).destination(for: form["rd"]), status: .badRequest,
                error: "The sign-in form expired. Please sign in again.")
        }
        let binding = String(bindingText)
        let returnURL = form["rd"] ?? ""
        guard forms.checkCSRF(form["csrf"], for: binding), forms.checkSeal(form["seal"], returnURL: returnURL, for: binding) else {
            return refusedForm(browser, context, action: "sign_in.refused", reason: "csrf")
        }
        let destination = returnGuard(browser).destination(for: returnURL)
        let username = form["username"] ?? ""
        let password = form["password"] ?? ""
        let shownName = (try? AgentID(username)) != nil ? username : "(not a user name)"
        let account = "user:" + shownName
        let limiter = components.pipeline.configuration.rateLimiter
        let path = Self.signInPath[...]
        if let refusal = limiter?.checkAccount(method: "POST", path: path, client: browser.client?.description, account: account).refusal {
            let scope = refusal.problem.extensions["scope"]?.stringValue ?? "-"
            context.logger.notice("sign-in refused: failure budget spent", metadata: ["user": .string(shownName), "scope": .string(scope)])
            let retry = refusal.headers.first { $0.name.lowercased() == "retry-after" }?.value ?? "60"
            return page(
                .tooManyRequests,
                PortalPage.message(
                    portal, title: "Too many attempts",
                    text: "Too many failed sign-ins. Try again in \(retry) seconds.",
                    link: (Self.signInPath, "Back to sign in")),
                browser, extra: refusal.headers)
        }
        let user: UserRecord?
        do {
            user = try await accounts.login(username: username, password: password)
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
        guard let user, let agent = try? AgentID(user.username), let role = try? Role(user.role) else {
            limiter?.recordFailedLogin(method: "POST", path: path, client: browser.client?.description, account: account)
            components.audit?.recordRefusal(
                action: "sign_in.failed", code: ProblemCode.invalidLogin.rawValue, client: client, actor: "anonymous", target: account,
                requestID: context.id)
            context.logger.notice("sign-in failed", metadata: ["user": .string(shownName), "peer": .string(client)])
            return signInForm(
                browser, forms: forms, returnURL: destination, status: .unauthorized,
                username: (try? AgentID(username)) != nil ? username : "",
                error: "The user name or the password is wrong.", binding: binding)
        }
        // The password is right. A second factor, when the user needs one, comes next.
        if let asked = try await secondFactorStep(
            browser, context, user: user, agent: agent, role: role, binding: binding, returnURL: returnURL, seal: form["seal"] ?? "")
        {
            return asked
        }
        let cookies = try await beginSession(
            request, context, browser: browser, sessions: sessions, username: agent, role: role, details: ["role": user.role])
        return redirect(to: destination, cookies: cookies)
    }

    /// The second factor's page when `user` needs one (setting it up first when they have none),
    /// with the short-lived cookie that carries the sign-in to it; `nil` when they need none.
    /// `binding` is the browser's sign-in cookie, set here when `setBinding`.
    func secondFactorStep(
        _ browser: BrowserRequest, _ context: AgentRequestContext, user: UserRecord, agent: AgentID, role: Role, binding: String,
        returnURL: String, seal: String, setBinding: Bool = false
    ) async throws -> Response? {
        guard let factors = components.browserSessions?.secondFactors, let forms = components.forms else { return nil }
        let need = try await storeCall(context) { try await factors.need(of: user) }
        guard need != .none else { return nil }
        var totp = true, passkey = false
        if case .factor(let hasTOTP, let hasPasskey) = need { (totp, passkey) = (hasTOTP, hasPasskey && offersPasskeys(browser)) }
        let pending = try components.pendingMinter.mint(agent: agent, role: role)
        let enrolment = need == .enrolment ? try await storeCall(context) { try await factors.beginEnrolment(for: user.username) } : nil
        context.logger.notice("first factor right; second factor asked", metadata: ["user": .string(user.username)])
        var cookies = [PortalConfiguration.pendingCookie.setting(pending.token, maxAge: PortalConfiguration.pendingLifetime)]
        if setBinding { cookies.append(PortalConfiguration.signInCookie.setting(binding, maxAge: PortalConfiguration.signInLifetime)) }
        return page(
            .ok,
            PortalPage.secondFactor(
                portal, csrf: forms.csrfToken(for: binding), returnURL: returnURL, seal: seal, enrolment: enrolment, totp: totp,
                passkey: passkey),
            browser, cookies: cookies)
    }

    /// Begins a session for `username` (ending the one this browser held, if any: the id changes
    /// at every sign-in), records the sign-in, and returns the cookies to set.
    func beginSession(
        _ request: Request, _ context: AgentRequestContext, browser: BrowserRequest, sessions: BrowserSessions, username: AgentID,
        role: Role, details: [String: String]
    ) async throws -> [String] {
        if let (_, claims) = signedIn(request, context) {
            try await endQuietly(claims, sessions: sessions, context: context)
        }
        let client = browser.client?.description ?? "-"
        let minted: MintedToken
        do {
            minted = try await sessions.begin(
                username: username, role: role, minter: components.browserMinter, client: client, userAgent: browser.userAgent)
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        } catch is TokenError {
            throw HTTPRefusal(503, .noSigningKey, "The server's keyring has no primary key, so it cannot sign anyone in.")
        }
        let account = "user:" + username.rawValue
        context.logger.notice(
            "user signed in", metadata: ["user": .string(username.rawValue), "session": .string(minted.claims.tokenID.hex)])
        components.audit(
            context.id, "user.signed_in", actor: account, target: account, client: client,
            details: details.merging(["session": minted.claims.tokenID.hex]) { $1 })
        return [
            try portal.sessionCookie().setting(minted.token, maxAge: minted.claims.expiresAt - minted.claims.issuedAt),
            PortalConfiguration.signInCookie.clearing(), PortalConfiguration.pendingCookie.clearing(),
        ]
    }

    // MARK: The second factor

    private func secondFactor(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard browser.mayHoldCookie else { return insecure(browser) }
        guard let sessions = components.browserSessions, components.accounts != nil, let forms = components.forms,
            let factors = sessions.secondFactors
        else {
            return unavailable(browser)
        }
        guard browser.isSameOrigin(publicURL: portal.publicURL) else {
            return refusedForm(browser, context, action: "second_factor.refused", reason: "cross-site")
        }
        guard let form = try await readForm(request) else {
            return refusedForm(browser, context, action: "second_factor.refused", reason: "malformed form")
        }
        let returnURL = form["rd"] ?? ""
        guard case .one(let bindingText) = browser.cookie(PortalConfiguration.signInCookie.name) else {
            return signInForm(
                browser, forms: forms, returnURL: returnGuard(browser).destination(for: returnURL), status: .badRequest,
                error: "The sign-in form expired. Please sign in again.")
        }
        let binding = String(bindingText)
        guard forms.checkCSRF(form["csrf"], for: binding), forms.checkSeal(form["seal"], returnURL: returnURL, for: binding) else {
            return refusedForm(browser, context, action: "second_factor.refused", reason: "csrf")
        }
        let destination = returnGuard(browser).destination(for: returnURL)
        guard let (claims, _) = pendingSignIn(browser) else {
            return signInForm(
                browser, forms: forms, returnURL: destination, status: .badRequest,
                error: "The sign-in took too long. Please sign in again.",
                binding: binding)
        }
        let username = claims.agent.rawValue
        let account = "user:" + username
        let limiter = components.pipeline.configuration.rateLimiter
        let path = Self.secondFactorPath[...]
        let client = browser.client?.description
        if let refusal = limiter?.checkAccount(method: "POST", path: path, client: client, account: account).refusal {
            let retry = refusal.headers.first { $0.name.lowercased() == "retry-after" }?.value ?? "60"
            return page(
                .tooManyRequests,
                PortalPage.message(
                    portal, title: "Too many attempts", text: "Too many wrong codes. Try again in \(retry) seconds.",
                    link: (Self.signInPath, "Back to sign in")),
                browser, extra: refusal.headers)
        }
        let code = form["code"] ?? ""
        let record = try await storeCall(context) { try await factors.store.secondFactor(of: username) }
        let need = try await storeCall(context) { try await factors.need(username: username, role: claims.role.rawValue) }
        if record?.enabledAt != nil {
            if let method = try await storeCall(context, { try await factors.verify(code, for: username) }) {
                let cookies = try await beginSession(
                    request, context, browser: browser, sessions: sessions, username: claims.agent, role: claims.role,
                    details: ["role": claims.role.rawValue, "second_factor": method])
                return redirect(to: destination, cookies: cookies)
            }
        } else if need == .enrolment,
            let codes = try await storeCall(context, { try await factors.completeEnrolment(for: username, code: code) })
        {
            components.audit(context.id, "second_factor.enabled", actor: account, target: account, client: client ?? "-")
            let cookies = try await beginSession(
                request, context, browser: browser, sessions: sessions, username: claims.agent, role: claims.role,
                details: ["role": claims.role.rawValue, "second_factor": "totp-enrolled"])
            return page(.ok, PortalPage.recoveryCodes(portal, codes: codes, next: destination), browser, cookies: cookies)
        }
        // A wrong code, or one used already: it spends the account's budget as a wrong password does.
        limiter?.recordFailedLogin(method: "POST", path: path, client: client, account: account)
        components.audit?.recordRefusal(
            action: "second_factor.failed", code: ProblemCode.invalidLogin.rawValue, client: client ?? "-", actor: account,
            target: account, requestID: context.id)
        context.logger.notice("second factor failed", metadata: ["user": .string(username), "peer": .string(client ?? "-")])
        let enrolment = record?.enabledAt == nil ? try await storeCall(context) { try await factors.enrolment(for: username) } : nil
        return page(
            .unauthorized,
            PortalPage.secondFactor(
                portal, csrf: forms.csrfToken(for: binding), returnURL: returnURL, seal: form["seal"] ?? "", enrolment: enrolment,
                totp: record?.enabledAt != nil || enrolment != nil, passkey: need.hasPasskey && offersPasskeys(browser),
                error: "That code is not right, or it was used already."),
            browser)
    }

    /// The sign-in form for `returnURL`, bound to the browser's sign-in cookie (a new one unless
    /// `binding` is given or the browser holds a usable one).
    func signInForm(
        _ browser: BrowserRequest, forms: FormProtection, returnURL: String, status: HTTPResponse.Status, username: String = "",
        error: String? = nil, binding: String? = nil
    ) -> Response {
        var binding = binding
        if binding == nil, case .one(let held) = browser.cookie(PortalConfiguration.signInCookie.name), Self.isBinding(held) {
            binding = String(held)
        }
        let fresh = binding ?? FormProtection.newBinding()
        let providers = (components.singleSignOn?.providers ?? []).map { provider in
            (href: Self.oidcPath(provider.configuration.name) + "?rd=" + FormBody.encode(returnURL), label: provider.configuration.label)
        }
        let html = PortalPage.signIn(
            portal, csrf: forms.csrfToken(for: fresh), returnURL: returnURL, seal: forms.seal(returnURL: returnURL, for: fresh),
            username: username, error: error, providers: providers, passkey: offersPasskeys(browser))
        return page(
            status, html, browser, cookies: [PortalConfiguration.signInCookie.setting(fresh, maxAge: PortalConfiguration.signInLifetime)])
    }

    /// Whether a sign-in cookie's value looks like one this portal set (22 characters of base64url).
    static func isBinding(_ value: Substring) -> Bool {
        value.utf8.count == 22 && value.utf8.allSatisfy { CredentialKind.isBodyByte($0, allowsDot: false) }
    }

    // MARK: Sessions

    private func sessionsPage(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard let sessions = components.browserSessions, let forms = components.forms else { return unavailable(browser) }
        guard let (principal, claims) = signedIn(request, context) else {
            return redirect(to: Self.signInPath + "?rd=" + FormBody.encode(browser.origin + Self.sessionsPath), cookies: [])
        }
        let list = try await storeCall(context) { try await sessions.sessions(of: principal.subject.name) }
        let csrf = forms.csrfToken(for: claims.tokenID.hex)
        var links: [IdentityLink] = []
        var linkable: [(href: String, label: String)] = []
        if let sso = components.singleSignOn {
            links = try await storeCall(context) { try await sso.links.identityLinks(of: principal.subject.name) }
            linkable = sso.providers.map { provider in
                (
                    Self.oidcLinkPath(provider.configuration.name) + "?csrf=" + FormBody.encode(csrf),
                    provider.configuration.label.replacingOccurrences(of: "Sign in with ", with: "")
                )
            }
        }
        var passkeys: [PasskeyRecord]?
        if let store = components.browserSessions?.secondFactors?.passkeys?.store, offersPasskeys(browser) {
            passkeys = try await storeCall(context) { try await store.passkeys(of: principal.subject.name) }
        }
        return page(
            .ok,
            PortalPage.sessions(
                portal, username: principal.subject.name, role: principal.role.rawValue, sessions: list, current: claims.tokenID,
                csrf: csrf, links: links, linkable: linkable, passkeys: passkeys),
            browser)
    }

    private func endSession(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard let sessions = components.browserSessions, let forms = components.forms else { return unavailable(browser) }
        guard let (principal, claims) = signedIn(request, context) else {
            return redirect(to: Self.signInPath, cookies: [])
        }
        guard browser.isSameOrigin(publicURL: portal.publicURL), let form = try await readForm(request),
            forms.checkCSRF(form["csrf"], for: claims.tokenID.hex)
        else {
            return refusedForm(browser, context, action: "session.end_refused", reason: "csrf")
        }
        guard let id = form["session"].flatMap(TokenID.init(hex:)),
            let record = try await storeCall(context, { try await sessions.session(id) }),
            record.username == principal.subject.name
        else {
            return page(
                .notFound,
                PortalPage.message(
                    portal, title: "No such session", text: "That session does not exist, or has ended.",
                    link: (Self.sessionsPath, "Your sessions")), browser)
        }
        _ = try await storeCall(context) { try await sessions.end(id, expiresAt: record.expiresAt) }
        components.audit(
            context.id, "session.ended", actor: principal.id, target: principal.id, client: browser.client?.description ?? "-",
            details: ["session": id.hex, "by": "user"])
        guard id != claims.tokenID else {
            return redirect(to: Self.signedOutPath, cookies: [try portal.sessionCookie().clearing()])
        }
        return redirect(to: Self.sessionsPath, cookies: [])
    }

    private func signOut(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        let clear = try portal.sessionCookie().clearing()
        // Another site may not sign a browser out either (nor clear its cookie).
        guard browser.isSameOrigin(publicURL: portal.publicURL) else {
            return refusedForm(browser, context, action: "sign_out.refused", reason: "cross-site")
        }
        guard let sessions = components.browserSessions, let forms = components.forms,
            let (principal, claims) = signedIn(request, context)
        else {
            return redirect(to: Self.signedOutPath, cookies: [clear])
        }
        guard let form = try await readForm(request), forms.checkCSRF(form["csrf"], for: claims.tokenID.hex) else {
            return refusedForm(browser, context, action: "sign_out.refused", reason: "csrf")
        }
        _ = try await storeCall(context) { try await sessions.end(claims.tokenID, expiresAt: claims.expiresAt) }
        context.logger.notice("user signed out", metadata: ["user": .string(principal.subject.name)])
        components.audit(
            context.id, "user.signed_out", actor: principal.id, target: principal.id, client: browser.client?.description ?? "-",
            details: ["session": claims.tokenID.hex])
        return redirect(to: Self.signedOutPath, cookies: [clear])
    }

    // MARK: Helpers

    func browser(_ request: Request, _ context: AgentRequestContext) -> BrowserRequest {
        BrowserRequest(request, peer: context.remoteAddress?.ipAddress, resolver: components.pipeline.configuration.clientAddresses)
    }

    /// The user this browser's session cookie proves, with the session's claims; `nil` without a
    /// valid one.
    func signedIn(_ request: Request, _ context: AgentRequestContext) -> (Principal, AgentTokenClaims)? {
        let facts = RequestFacts(
            method: request.method.rawValue, path: request.uri.path, fields: request.headers, peerAddress: context.remoteAddress?.ipAddress,
            bodyLength: nil)
        guard case .success(let principal) = components.pipeline.authenticate(facts), case .user(let claims) = principal.subject,
            claims.audience == components.browserMinter.policy.audience
        else { return nil }
        return (principal, claims)
    }

    /// The sign-in the pending cookie carries: the right first factor, a few minutes ago, for a
    /// user who still has it and the same role; `nil` otherwise.
    func pendingSignIn(_ browser: BrowserRequest) -> (claims: AgentTokenClaims, user: AccessDirectory.User)? {
        guard case .one(let pendingText) = browser.cookie(PortalConfiguration.pendingCookie.name),
            case .success(let claims) = components.pendingVerifier.check(String(pendingText)),
            let user = components.accounts?.directory.user(claims.agent.rawValue), claims.issuedAt >= user.sessionsNotBefore,
            claims.role == user.role
        else { return nil }
        return (claims, user)
    }

    /// Ends the session of `claims` without failing the request that replaces it.
    func endQuietly(_ claims: AgentTokenClaims, sessions: BrowserSessions, context: AgentRequestContext) async throws {
        _ = try await storeCall(context) { try await sessions.end(claims.tokenID, expiresAt: claims.expiresAt) }
    }

    func storeCall<Result>(_ context: AgentRequestContext, _ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }

    /// The form in the body, or `nil` when it is not `application/x-www-form-urlencoded` or not
    /// one.
    func readForm(_ request: Request) async throws -> FormBody? {
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded") else {
            return nil
        }
        var request = request
        guard let body = try? await request.collectBody(upTo: FormBody.defaultMaximumBytes) else { return nil }
        return try? FormBody(parsing: body.readableBytesView)
    }

    /// Where a browser may return: the protected hosts, the hosts under the cookie domain, and
    /// the host the portal is reached on.
    func returnGuard(_ browser: BrowserRequest) -> ReturnURLGuard {
        ReturnURLGuard(
            protectedHosts: portal.protectedHosts + [browser.hostName], cookieDomain: portal.cookieDomain,
            home: portal.homeURL ?? Self.sessionsPath)
    }

    /// The origins a form may redirect to once posted (CSP `form-action`).
    private var formTargets: [String] {
        var targets = [String]()
        for host in portal.protectedHosts {
            targets.append("https://" + host)
            if AgentHostConfiguration.isLoopback(host) { targets.append("http://\(host):*") }
        }
        if let domain = portal.cookieDomain { targets += ["https://" + domain, "https://*." + domain] }
        if let home = portal.homeURL, let origin = Self.origin(of: home) { targets.append(origin) }
        return targets
    }

    /// `scheme://authority` of an absolute URL.
    static func origin(of url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return authority.isEmpty ? nil : String(url[..<schemeEnd.upperBound] + authority)
    }

    func page(
        _ status: HTTPResponse.Status, _ html: String, _ browser: BrowserRequest, cookies: [String] = [], extra: [HeaderField] = []
    ) -> Response {
        var headers = HTTPFields()
        SecurityResponses.append(PortalPage.headers(formTargets: formTargets) + extra, to: &headers)
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    func redirect(to location: String, cookies: [String]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

    func refusedForm(_ browser: BrowserRequest, _ context: AgentRequestContext, action: String, reason: String) -> Response {
        components.audit?.recordRefusal(
            action: action, code: ProblemCode.formRefused.rawValue, client: browser.client?.description ?? "-", actor: "anonymous",
            target: "POST portal", requestID: context.id)
        context.logger.notice(
            "portal form refused", metadata: ["reason": .string(reason), "peer": .string(browser.client?.description ?? "-")])
        return page(
            .forbidden,
            PortalPage.message(
                portal, title: "Form refused",
                text: "This form expired or was sent from another site, so nothing was done. Open the page again and retry.",
                link: (Self.signInPath, "Sign in")),
            browser)
    }

    func insecure(_ browser: BrowserRequest) -> Response {
        page(
            .badRequest,
            PortalPage.message(
                portal, title: "Sign-in needs https",
                text: "This page was reached over plain http, which would expose the session cookie. Open it over https."),
            browser)
    }

    func unavailable(_ browser: BrowserRequest) -> Response {
        page(
            .serviceUnavailable,
            PortalPage.message(portal, title: "Sign-in unavailable", text: "This server cannot sign anyone in right now. Try again later."),
            browser)
    }
}
