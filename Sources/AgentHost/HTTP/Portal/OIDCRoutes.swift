import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SecurityCore

/// Single sign-on through OpenID Connect providers (Docs/SIGN_IN.md): the button's start, the
/// provider's callback, and linking a provider to the signed-in user. A sign-in through a
/// provider ends in the same session, second-factor rules and audit as one with a password.
extension PortalRoutes {
    /// `/auth/oidc/{provider}`: where a provider's button leads.
    static func oidcPath(_ provider: String) -> String { "/auth/oidc/" + provider }
    /// Where the provider sends the browser back.
    static func oidcCallbackPath(_ provider: String) -> String { oidcPath(provider) + "/callback" }
    /// Where a signed-in user links a provider.
    static func oidcLinkPath(_ provider: String) -> String { oidcPath(provider) + "/link" }

    /// Every path of `providers`: the pipeline lets these through to the routes, which check
    /// their own cookies.
    static func oidcPaths(_ providers: [OIDCProviderConfiguration]) -> [String] {
        providers.flatMap { [oidcPath($0.name), oidcCallbackPath($0.name), oidcLinkPath($0.name)] }
    }

    func addSingleSignOn(to router: Router<AgentRequestContext>) {
        guard components.singleSignOn != nil else { return }
        router.get("/auth/oidc/{provider}") { request, context in try await startSignIn(request, context: context, linking: false) }
        router.get("/auth/oidc/{provider}/link") { request, context in try await startSignIn(request, context: context, linking: true) }
        router.get("/auth/oidc/{provider}/callback") { request, context in try await finishSignIn(request, context: context) }
    }

    // MARK: To the provider

    /// Sends the browser to the provider with a new `state`, `nonce` and PKCE challenge, which a
    /// sealed cookie keeps for the callback. Linking needs a signed-in user and the sessions
    /// page's CSRF token.
    private func startSignIn(_ request: Request, context: AgentRequestContext, linking: Bool) async throws -> Response {
        let browser = browser(request, context)
        guard browser.mayHoldCookie else { return insecure(browser) }
        guard let sso = components.singleSignOn, let primary = components.flowKey else { return unavailable(browser) }
        guard let name = context.parameters.get("provider"), let provider = sso.provider(name) else { return noSuchProvider(browser) }
        var link: String?
        if linking {
            guard let forms = components.forms, let (principal, claims) = signedIn(request, context),
                forms.checkCSRF(request.uri.queryParameters["csrf"].map(String.init), for: claims.tokenID.hex)
            else {
                return refusedForm(browser, context, action: "identity.link_refused", reason: "csrf")
            }
            link = principal.subject.name
        }
        let returnURL =
            linking
            ? (portal.publicURL ?? browser.origin) + Self.sessionsPath
            : returnGuard(browser).destination(for: request.uri.queryParameters["rd"].map(String.init))
        let attempt = OIDCProvider.Attempt.random()
        let redirectURI = (portal.publicURL ?? browser.origin) + Self.oidcCallbackPath(name)
        let flow = OIDCFlow(
            provider: name, state: attempt.state, nonce: attempt.nonce, verifier: attempt.verifier, returnURL: returnURL,
            redirectURI: redirectURI, link: link, expires: components.clock.now() + SingleSignOn.flowLifetime)
        let location: String
        do {
            location = try await provider.authorizationURL(for: attempt, redirectURI: redirectURI)
        } catch let error as OIDCError {
            context.logger.error("single sign-on unavailable", metadata: ["provider": .string(name), "error": .string(error.description)])
            return providerUnavailable(browser, provider: provider.configuration)
        }
        return redirect(to: location, cookies: [OIDCFlow.cookie.setting(try flow.sealed(with: primary), maxAge: SingleSignOn.flowLifetime)])
    }

    // MARK: Back from the provider

    /// Finishes a sign-in: the flow cookie this browser holds, its `state`, the `iss` the provider
    /// names (RFC 9207), the code redeemed with the PKCE verifier, the id_token verified in full,
    /// and who the person may sign in as. Each refusal is a page that says why, and an audit record.
    private func finishSignIn(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard browser.mayHoldCookie else { return insecure(browser) }
        guard let sso = components.singleSignOn, let primary = components.flowKey, let sessions = components.browserSessions else {
            return unavailable(browser)
        }
        guard let name = context.parameters.get("provider"), let provider = sso.provider(name) else { return noSuchProvider(browser) }
        let query = request.uri.queryParameters
        let client = browser.client?.description ?? "-"
        let clear = OIDCFlow.cookie.clearing()
        func refuse(_ status: HTTPResponse.Status, _ reason: String, shown: String, actor: String = "anonymous") -> Response {
            components.audit?.recordRefusal(
                action: "sign_in.failed", code: ProblemCode.invalidLogin.rawValue, client: client, actor: actor,
                target: "oidc:" + name + ":" + reason, requestID: context.id)
            context.logger.notice("single sign-on refused", metadata: ["provider": .string(name), "reason": .string(reason)])
            return page(
                status, PortalPage.message(portal, title: "Sign-in refused", text: shown, link: (Self.signInPath, "Back to sign in")),
                browser, cookies: [clear])
        }
        guard case .one(let sealed) = browser.cookie(OIDCFlow.cookie.name),
            let flow = OIDCFlow.opened(sealed, with: primary, now: components.clock.now()), flow.provider == name
        else {
            return refuse(.badRequest, "no flow", shown: "This sign-in expired, or was not begun in this browser. Please sign in again.")
        }
        guard let state = query["state"].map(String.init), ConstantTime.equals(Array(state.utf8), Array(flow.state.utf8)) else {
            return refuse(.badRequest, "state", shown: "This sign-in's answer does not belong to it (state). Please sign in again.")
        }
        guard sso.redeem(state: flow.state) else {
            return refuse(.badRequest, "replayed", shown: "This sign-in's answer was used already. Please sign in again.")
        }
        if let error = query["error"] {
            let code = String(error.prefix(64).filter { $0.isLetter || $0 == "_" })
            return refuse(.forbidden, "provider said " + code, shown: "\(provider.configuration.label) did not sign you in (\(code)).")
        }
        let iss = query["iss"].map(String.init)
        do {
            let metadata = try await provider.metadata()
            if let iss, iss != metadata.issuer {
                return refuse(.badRequest, "iss", shown: "This answer came from another provider than the one asked (iss).")
            }
            if iss == nil, metadata.issParameterSupported == true {
                return refuse(.badRequest, "iss missing", shown: "This answer does not say which provider sent it (iss).")
            }
        } catch let error as OIDCError {
            context.logger.error("single sign-on unavailable", metadata: ["provider": .string(name), "error": .string(error.description)])
            return providerUnavailable(browser, provider: provider.configuration)
        }
        guard let code = query["code"].map(String.init), !code.isEmpty else {
            return refuse(.badRequest, "no code", shown: "The provider's answer has no code. Please sign in again.")
        }
        let token: OIDCProvider.IDToken
        do {
            let idToken = try await sso.withClientSecret(name) { secret in
                try await provider.exchange(code: code, verifier: flow.verifier, redirectURI: flow.redirectURI, clientSecret: secret)
            }
            token = try await provider.verify(idToken: idToken, nonce: flow.nonce)
        } catch let error as OIDCError {
            context.logger.notice("single sign-on failed", metadata: ["provider": .string(name), "error": .string(error.description)])
            return refuse(
                .unauthorized, error.code.rawValue, shown: "The sign-in could not be checked (\(error.reason)). Please sign in again.")
        }
        let identity = "oidc:\(name):\(token.sub.prefix(255))"
        if let username = flow.link {
            return try await link(
                request, context, browser: browser, sso: sso, provider: provider.configuration, token: token,
                username: username, clear: clear, refuse: refuse)
        }
        let admission = try await storeCall(context) { try await sso.admit(token, from: provider.configuration, policy: components.policy) }
        guard case .user(let username, let role, let created) = admission else {
            if case .refused(let why) = admission { return refuse(.forbidden, "not allowed", shown: why, actor: identity) }
            return unavailable(browser)
        }
        if created {
            components.audit(
                context.id, "user.created", actor: identity, target: "user:" + username, client: client,
                details: ["role": role.rawValue, "provider": name])
            components.audit(
                context.id, "user.identity_linked", actor: identity, target: "user:" + username, client: client,
                details: ["provider": name, "subject": String(token.sub.prefix(255))])
        }
        guard let user = try await storeCall(context, { try await sso.accounts.users.user(named: username) }),
            let agent = try? AgentID(username)
        else {
            return unavailable(browser)
        }
        // The same second-factor rules as a password sign-in.
        if let forms = components.forms {
            var binding = FormProtection.newBinding()
            var fresh = true
            if case .one(let held) = browser.cookie(PortalConfiguration.signInCookie.name), Self.isBinding(held) {
                binding = String(held)
                fresh = false
            }
            if var asked = try await secondFactorStep(
                browser, context, user: user, agent: agent, role: role, binding: binding, returnURL: flow.returnURL,
                seal: forms.seal(returnURL: flow.returnURL, for: binding), setBinding: fresh)
            {
                asked.headers.append(HTTPField(name: .setCookie, value: clear))
                return asked
            }
        }
        let cookies = try await beginSession(
            request, context, browser: browser, sessions: sessions, username: agent, role: role,
            details: ["role": role.rawValue, "method": "oidc", "provider": name])
        return redirect(to: flow.returnURL, cookies: cookies + [clear])
    }

    /// Links the provider's subject in `token` to `username`, who began the link signed in and
    /// still is. A subject linked to someone else already is refused.
    private func link(
        _ request: Request, _ context: AgentRequestContext, browser: BrowserRequest, sso: SingleSignOn,
        provider: OIDCProviderConfiguration, token: OIDCProvider.IDToken, username: String, clear: String,
        refuse: (HTTPResponse.Status, String, String, String) -> Response
    ) async throws -> Response {
        guard let (principal, _) = signedIn(request, context), principal.subject.name == username else {
            return refuse(.forbidden, "link: signed out", "Sign in again, then link the provider from your sessions page.", "anonymous")
        }
        if let existing = try await storeCall(context, { try await sso.links.identityLink(provider: provider.name, subject: token.sub) }) {
            guard existing.username == username else {
                return refuse(
                    .conflict, "link: taken", "That \(provider.name) account is linked to another user here already.", principal.id)
            }
            return redirect(to: Self.sessionsPath, cookies: [clear])
        }
        let link = IdentityLink(
            provider: provider.name, subject: token.sub, username: username, email: token.email ?? "", createdAt: components.clock.now())
        guard try await storeCall(context, { try await sso.links.addIdentityLink(link) }) else {
            return refuse(.conflict, "link: taken", "That \(provider.name) account is linked to another user here already.", principal.id)
        }
        components.audit(
            context.id, "user.identity_linked", actor: principal.id, target: principal.id, client: browser.client?.description ?? "-",
            details: ["provider": provider.name, "subject": String(token.sub.prefix(255))])
        return redirect(to: Self.sessionsPath, cookies: [clear])
    }

    private func noSuchProvider(_ browser: BrowserRequest) -> Response {
        page(
            .notFound,
            PortalPage.message(
                portal, title: "No such provider", text: "This server has no sign-in provider by that name.",
                link: (Self.signInPath, "Sign in")), browser)
    }

    private func providerUnavailable(_ browser: BrowserRequest, provider: OIDCProviderConfiguration) -> Response {
        page(
            .badGateway,
            PortalPage.message(
                portal, title: "Provider unavailable",
                text: "\(provider.label) cannot be reached right now, so nobody can sign in with it. Try again later.",
                link: (Self.signInPath, "Sign in")), browser)
    }
}
