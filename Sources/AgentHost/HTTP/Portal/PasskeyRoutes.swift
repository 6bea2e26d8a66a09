import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SecurityCore

/// Passkeys at the portal (Docs/SIGN_IN.md, "Passkeys"): the script that runs a ceremony, its
/// options, registering one from the sessions page, signing in with one (alone, or as the second
/// factor), and renaming or removing one.
///
/// The JSON routes take `application/json` only (a cross-site `<form>` cannot send it), from the
/// portal's own origin, with the CSRF token of the page that began them. A ceremony's challenge
/// is in a sealed cookie and spent once. Refusals are problem+json: `passkey_refused` (401) names
/// the failed check; a failed sign-in spends the same budgets as a wrong password.
extension PortalRoutes {
    static let passkeyScriptPath = "/auth/passkey.js"
    static let passkeyOptionsPath = "/auth/passkeys/options"
    static let registerPasskeyPath = "/auth/passkeys/register"
    static let passkeySignInPath = "/auth/passkeys/sign-in"
    static let renamePasskeyPath = "/auth/passkeys/rename"
    static let removePasskeyPath = "/auth/passkeys/remove"
    static let passkeyPaths = [
        passkeyScriptPath, passkeyOptionsPath, registerPasskeyPath, passkeySignInPath, renamePasskeyPath, removePasskeyPath,
    ]

    /// The COSE algorithms asked for, in order of preference: EdDSA, ES256, RS256.
    static let passkeyAlgorithms: [Int64] = [-8, -7, -257]
    /// The longest field of a ceremony's answer, in base64url characters.
    static let maximumPasskeyField = 16 * 1024

    private static let optionsSchema: Schema = .object([
        "purpose": .required(.string(oneOf: ["register", "sign-in", "second-factor"])),
        "csrf": .required(.string(maxLength: 256)),
    ])
    private static let registerSchema: Schema = .object([
        "csrf": .required(.string(maxLength: 256)),
        "name": .required(.string(length: 1...Passkeys.maximumNameLength, maximumBytes: 4 * Passkeys.maximumNameLength)),
        "id": .required(.string(maxLength: 1_400)),
        "clientDataJSON": .required(.string(maxLength: maximumPasskeyField)),
        "attestationObject": .required(.string(maxLength: maximumPasskeyField)),
    ])
    private static let signInSchema: Schema = .object([
        "csrf": .required(.string(maxLength: 256)),
        "rd": .required(.string(maxLength: 4096)),
        "seal": .required(.string(maxLength: 256)),
        "id": .required(.string(length: 1...1_400, maximumBytes: 1_400)),
        "clientDataJSON": .required(.string(maxLength: maximumPasskeyField)),
        "authenticatorData": .required(.string(maxLength: maximumPasskeyField)),
        "signature": .required(.string(maxLength: maximumPasskeyField)),
        "userHandle": .optional(.string(maxLength: 256)),
    ])

    func addPasskeys(to router: Router<AgentRequestContext>) {
        guard components.browserSessions?.secondFactors?.passkeys != nil else { return }
        router.get(RouterPath(Self.passkeyScriptPath)) { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=3600", .xContentTypeOptions: "nosniff"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: PasskeyScript.source)))
        }
        router.post(RouterPath(Self.passkeyOptionsPath)) { request, context in try await passkeyOptions(request, context: context) }
        router.post(RouterPath(Self.registerPasskeyPath)) { request, context in try await registerPasskey(request, context: context) }
        router.post(RouterPath(Self.passkeySignInPath)) { request, context in try await passkeySignIn(request, context: context) }
        router.post(RouterPath(Self.renamePasskeyPath)) { request, context in try await renamePasskey(request, context: context) }
        router.post(RouterPath(Self.removePasskeyPath)) { request, context in try await removePasskey(request, context: context) }
    }

    /// Whether the pages shown to `browser` offer passkeys.
    func offersPasskeys(_ browser: BrowserRequest) -> Bool {
        components.browserSessions?.secondFactors?.passkeys != nil && Passkeys.relyingParty(portal: portal, browser: browser) != nil
    }

    // MARK: Options

    /// A ceremony's options for `navigator.credentials`, and the sealed cookie that keeps its
    /// challenge: to register (signed in), to sign in (the sign-in page's token), or as the
    /// second factor (after the password, within its five minutes).
    private func passkeyOptions(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        let (passkeys, key, forms, party) = try passkeyParts(browser)
        let body = try await JSONBody.read(request, schema: Self.optionsSchema)
        let csrf = body["csrf"]?.stringValue
        guard let purpose = body["purpose"]?.stringValue.flatMap(PasskeyCeremony.Purpose.init(rawValue:)) else {
            throw HTTPRefusal(400, .validationFailed, "purpose is register, sign-in or second-factor.")
        }
        let challenge = Array(SecureBytes.random(count: 32))
        var options: [String: JSONValue] = [
            "challenge": .string(Base64URL.encode(challenge)), "timeout": .integer(Passkeys.ceremonyLifetime * 1000),
        ]
        var username: String?
        switch purpose {
        case .register:
            guard let (principal, claims) = signedIn(request, context), forms.checkCSRF(csrf, for: claims.tokenID.hex) else {
                throw passkeyFormRefused(browser, context)
            }
            let name = principal.subject.name
            let existing = try await storeCall(context) { try await passkeys.store.passkeys(of: name) }
            guard existing.count < Passkeys.maximumPerUser else {
                throw HTTPRefusal(409, .exists, "You have \(Passkeys.maximumPerUser) passkeys, the most a user may have. Remove one first.")
            }
            username = name
            options["rp"] = .object(["id": .string(party.id), "name": .string(portal.title)])
            options["user"] = .object([
                "id": .string(Base64URL.encode(passkeys.userHandle(for: name))), "name": .string(name), "displayName": .string(name),
            ])
            options["pubKeyCredParams"] = .array(
                Self.passkeyAlgorithms.map { .object(["type": .string("public-key"), "alg": .integer($0)]) })
            options["attestation"] = .string("none")
            options["authenticatorSelection"] = .object([
                "residentKey": .string("preferred"), "userVerification": .string("preferred"),
            ])
            options["excludeCredentials"] = Self.descriptors(existing)
        case .signIn:
            guard case .one(let binding) = browser.cookie(PortalConfiguration.signInCookie.name),
                forms.checkCSRF(csrf, for: String(binding))
            else {
                throw passkeyFormRefused(browser, context)
            }
            options["rpId"] = .string(party.id)
            options["userVerification"] = .string("required")
            options["allowCredentials"] = .array([])
        case .secondFactor:
            guard case .one(let binding) = browser.cookie(PortalConfiguration.signInCookie.name),
                forms.checkCSRF(csrf, for: String(binding))
            else {
                throw passkeyFormRefused(browser, context)
            }
            guard let (claims, _) = pendingSignIn(browser) else {
                throw HTTPRefusal(401, .passkeyRefused, "The sign-in took too long. Please sign in again.")
            }
            let name = claims.agent.rawValue
            let existing = try await storeCall(context) { try await passkeys.store.passkeys(of: name) }
            username = name
            options["rpId"] = .string(party.id)
            options["userVerification"] = .string("discouraged")
            options["allowCredentials"] = Self.descriptors(existing)
        }
        let ceremony = PasskeyCeremony(
            purpose: purpose, challenge: Base64URL.encode(challenge), username: username,
            expires: components.clock.now() + Passkeys.ceremonyLifetime)
        var response = JSONBody.response(.object(["publicKey": .object(options)]))
        response.headers.append(
            HTTPField(name: .setCookie, value: Passkeys.cookie.setting(try ceremony.sealed(with: key), maxAge: Passkeys.ceremonyLifetime)))
        return response
    }

    private static func descriptors(_ passkeys: [PasskeyRecord]) -> JSONValue {
        .array(passkeys.map { .object(["type": .string("public-key"), "id": .string($0.id)]) })
    }

    // MARK: Registering

    /// Adds the passkey a signed-in user's authenticator just made, after §7.1's checks.
    private func registerPasskey(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        let (passkeys, key, forms, party) = try passkeyParts(browser)
        let body = try await JSONBody.read(request, schema: Self.registerSchema)
        guard let (principal, claims) = signedIn(request, context), forms.checkCSRF(body["csrf"]?.stringValue, for: claims.tokenID.hex)
        else {
            throw passkeyFormRefused(browser, context)
        }
        let username = principal.subject.name
        let client = browser.client?.description ?? "-"
        func refuse(_ reason: String) -> HTTPRefusal {
            components.audit?.recordRefusal(
                action: "passkey.add_refused", code: ProblemCode.passkeyRefused.rawValue, client: client, actor: principal.id,
                target: principal.id, requestID: context.id)
            context.logger.notice("passkey refused", metadata: ["user": .string(username), "reason": .string(reason)])
            return HTTPRefusal(401, .passkeyRefused, "The passkey was not added: \(reason).")
        }
        guard let ceremony = ceremony(browser, key: key), ceremony.purpose == .register, ceremony.username == username else {
            throw refuse("no registration was begun in this browser, or it expired")
        }
        guard passkeys.spend(ceremony) else { throw refuse("this answer was used already") }
        guard let clientData = body["clientDataJSON"]?.stringValue.flatMap(Base64URL.decode),
            let attestation = body["attestationObject"]?.stringValue.flatMap(Base64URL.decode),
            let challenge = Base64URL.decode(ceremony.challenge)
        else {
            throw refuse("a field is not base64url")
        }
        let credential: WebAuthnRelyingParty.Credential
        do {
            credential = try party.verifyRegistration(
                clientDataJSON: clientData, attestationObject: attestation, challenge: challenge, requireUserVerification: false)
        } catch {
            throw refuse(error.reason)
        }
        let name = Self.passkeyName(body["name"]?.stringValue) ?? "Passkey"
        let record = PasskeyRecord(
            id: Base64URL.encode(credential.id), username: username, name: name, publicKey: credential.publicKey,
            algorithm: credential.algorithm, signCount: credential.signCount, createdAt: components.clock.now(), lastUsedAt: nil)
        let count = try await storeCall(context) { try await passkeys.store.passkeys(of: username).count }
        guard count < Passkeys.maximumPerUser else {
            throw HTTPRefusal(409, .exists, "You have \(Passkeys.maximumPerUser) passkeys, the most a user may have. Remove one first.")
        }
        guard try await storeCall(context, { try await passkeys.store.addPasskey(record) }) else {
            throw HTTPRefusal(409, .exists, "That passkey is registered already.")
        }
        context.logger.notice("passkey added", metadata: ["user": .string(username)])
        components.audit(
            context.id, "passkey.added", actor: principal.id, target: principal.id, client: client,
            details: ["passkey": record.id, "name": name, "algorithm": "\(record.algorithm)"])
        var response = JSONBody.response(.object(["id": .string(record.id), "name": .string(name)]), status: .created)
        response.headers.append(HTTPField(name: .setCookie, value: Passkeys.cookie.clearing()))
        return response
    }

    // MARK: Signing in

    /// Signs in with a passkey: alone (a discoverable credential, the user verified) or as the
    /// second factor of the sign-in the pending cookie carries. §7.2's checks, then the counter
    /// moved forward in the store, then the same session and audit as any sign-in.
    private func passkeySignIn(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        let (passkeys, key, forms, party) = try passkeyParts(browser)
        guard let sessions = components.browserSessions, let accounts = components.accounts else {
            throw HTTPRefusal(503, .accountsUnavailable, "This server cannot sign anyone in right now.")
        }
        let body = try await JSONBody.read(request, schema: Self.signInSchema)
        let returnURL = body["rd"]?.stringValue ?? ""
        guard case .one(let bindingText) = browser.cookie(PortalConfiguration.signInCookie.name),
            forms.checkCSRF(body["csrf"]?.stringValue, for: String(bindingText)),
            forms.checkSeal(body["seal"]?.stringValue, returnURL: returnURL, for: String(bindingText))
        else {
            throw passkeyFormRefused(browser, context)
        }
        let client = browser.client?.description
        let limiter = components.pipeline.configuration.rateLimiter
        let path = Self.passkeySignInPath[...]
        let ceremony = ceremony(browser, key: key)
        let pending = ceremony?.purpose == .secondFactor ? pendingSignIn(browser) : nil
        let id = body["id"]?.stringValue ?? ""
        let record = try await storeCall(context) { try await passkeys.store.passkey(id: id) }
        let account = "user:" + (pending?.claims.agent.rawValue ?? record?.username ?? "(unknown passkey)")
        if let refusal = limiter?.checkAccount(method: "POST", path: path, client: client, account: account).refusal {
            let retry = refusal.headers.first { $0.name.lowercased() == "retry-after" }?.value ?? "60"
            throw HTTPRefusal(
                status: 429, code: .rateLimited, detail: "Too many failed sign-ins. Try again in \(retry) seconds.",
                headers: refusal.headers)
        }
        func refuse(_ reason: String) -> HTTPRefusal {
            limiter?.recordFailedLogin(method: "POST", path: path, client: client, account: account)
            components.audit?.recordRefusal(
                action: ceremony?.purpose == .secondFactor ? "second_factor.failed" : "sign_in.failed",
                code: ProblemCode.passkeyRefused.rawValue, client: client ?? "-", actor: "anonymous", target: account,
                requestID: context.id)
            context.logger.notice("passkey sign-in refused", metadata: ["reason": .string(reason), "peer": .string(client ?? "-")])
            return HTTPRefusal(401, .passkeyRefused, "The passkey did not sign you in: \(reason).")
        }
        guard let ceremony, ceremony.purpose != .register else {
            throw refuse("no sign-in was begun in this browser, or it expired")
        }
        guard passkeys.spend(ceremony) else { throw refuse("this answer was used already") }
        guard let record else { throw refuse("this passkey is not registered here") }
        if ceremony.purpose == .secondFactor {
            guard let pending, pending.claims.agent.rawValue == record.username, ceremony.username == record.username else {
                throw refuse("this passkey is not the signing-in user's, or the sign-in took too long")
            }
        }
        if let handle = body["userHandle"]?.stringValue, !handle.isEmpty {
            guard let bytes = Base64URL.decode(handle), ConstantTime.equals(bytes, passkeys.userHandle(for: record.username)) else {
                throw refuse("the authenticator names another user")
            }
        }
        guard let clientData = body["clientDataJSON"]?.stringValue.flatMap(Base64URL.decode),
            let authenticatorData = body["authenticatorData"]?.stringValue.flatMap(Base64URL.decode),
            let signature = body["signature"]?.stringValue.flatMap(Base64URL.decode),
            let challenge = Base64URL.decode(ceremony.challenge)
        else {
            throw refuse("a field is not base64url")
        }
        let assertion: WebAuthnRelyingParty.Assertion
        do {
            assertion = try party.verifyAssertion(
                clientDataJSON: clientData, authenticatorData: authenticatorData, signature: signature, challenge: challenge,
                publicKey: record.publicKey, storedSignCount: record.signCount, requireUserVerification: ceremony.purpose == .signIn)
        } catch {
            throw refuse(error.reason)
        }
        guard
            try await storeCall(
                context,
                { try await passkeys.store.recordPasskeyUse(id: record.id, signCount: assertion.signCount, at: components.clock.now()) })
        else {
            throw refuse("the signature counter did not go up: the assertion is replayed or the key was copied")
        }
        guard let user = accounts.directory.user(record.username), let agent = try? AgentID(record.username) else {
            throw refuse("the passkey's user no longer exists")
        }
        let role = user.role
        if let pending, pending.claims.role != role { throw refuse("the user's role changed during the sign-in") }
        let details =
            ceremony.purpose == .signIn
            ? ["role": role.rawValue, "method": "passkey", "passkey": record.id]
            : ["role": role.rawValue, "second_factor": "passkey", "passkey": record.id]
        let cookies = try await beginSession(
            request, context, browser: browser, sessions: sessions, username: agent, role: role, details: details)
        var response = JSONBody.response(.object(["redirect": .string(returnGuard(browser).destination(for: returnURL))]))
        for cookie in cookies + [Passkeys.cookie.clearing()] { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }

    // MARK: Managing

    /// Renames one of the signed-in user's passkeys.
    private func renamePasskey(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard let (principal, form, passkeys) = try await passkeyForm(request, context, browser: browser, action: "passkey.rename_refused")
        else {
            return refusedForm(browser, context, action: "passkey.rename_refused", reason: "csrf")
        }
        let username = principal.subject.name
        guard let id = form["id"], let name = Self.passkeyName(form["name"]) else {
            return page(
                .badRequest,
                PortalPage.message(
                    portal, title: "Name not changed",
                    text: "A passkey's name is 1 to \(Passkeys.maximumNameLength) characters, with no control characters.",
                    link: (Self.sessionsPath, "Your sessions")), browser)
        }
        guard try await storeCall(context, { try await passkeys.store.renamePasskey(id: id, of: username, to: name) }) else {
            return noSuchPasskey(browser)
        }
        components.audit(
            context.id, "passkey.renamed", actor: principal.id, target: principal.id, client: browser.client?.description ?? "-",
            details: ["passkey": id, "name": name])
        return redirect(to: Self.sessionsPath, cookies: [])
    }

    /// Removes one of the signed-in user's passkeys, unless it is the last second factor of a user
    /// who must have one.
    private func removePasskey(_ request: Request, context: AgentRequestContext) async throws -> Response {
        let browser = browser(request, context)
        guard let (principal, form, passkeys) = try await passkeyForm(request, context, browser: browser, action: "passkey.remove_refused")
        else {
            return refusedForm(browser, context, action: "passkey.remove_refused", reason: "csrf")
        }
        let username = principal.subject.name
        let client = browser.client?.description ?? "-"
        guard let id = form["id"], let record = try await storeCall(context, { try await passkeys.store.passkey(id: id) }),
            record.username == username
        else {
            return noSuchPasskey(browser)
        }
        if let factors = components.browserSessions?.secondFactors, let user = components.accounts?.directory.user(username) {
            let factorRecord = try await storeCall(context) { try await factors.store.secondFactor(of: username) }
            let count = try await storeCall(context) { try await factors.count(of: username) }
            if factors.mustHave(role: user.role.rawValue, factorRecord), count <= 1 {
                components.audit?.recordRefusal(
                    action: "passkey.remove_refused", code: ProblemCode.forbidden.rawValue, client: client, actor: principal.id,
                    target: principal.id, requestID: context.id)
                return page(
                    .conflict,
                    PortalPage.message(
                        portal, title: "Passkey kept",
                        text:
                            "This passkey is your last second factor, and your account must have one. Add another passkey (or set up an authenticator app) before removing it.",
                        link: (Self.sessionsPath, "Your sessions")), browser)
            }
        }
        guard try await storeCall(context, { try await passkeys.store.removePasskey(id: id, of: username) }) else {
            return noSuchPasskey(browser)
        }
        context.logger.notice("passkey removed", metadata: ["user": .string(username)])
        components.audit(
            context.id, "passkey.removed", actor: principal.id, target: principal.id, client: client,
            details: ["passkey": id, "name": record.name])
        return redirect(to: Self.sessionsPath, cookies: [])
    }

    // MARK: Helpers

    /// The signed-in user, the posted form and the passkeys, for a form from the sessions page;
    /// `nil` when the form is refused (not signed in, another origin, no CSRF token).
    private func passkeyForm(
        _ request: Request, _ context: AgentRequestContext, browser: BrowserRequest, action: String
    ) async throws -> (Principal, FormBody, Passkeys)? {
        guard let passkeys = components.browserSessions?.secondFactors?.passkeys, let forms = components.forms,
            browser.isSameOrigin(publicURL: portal.publicURL), let (principal, claims) = signedIn(request, context),
            let form = try await readForm(request), forms.checkCSRF(form["csrf"], for: claims.tokenID.hex)
        else { return nil }
        return (principal, form, passkeys)
    }

    /// What every passkey route needs; throws the refusal when passkeys cannot work here.
    private func passkeyParts(_ browser: BrowserRequest) throws -> (Passkeys, AESGCMKey, FormProtection, WebAuthnRelyingParty) {
        guard browser.mayHoldCookie else {
            throw HTTPRefusal(400, .passkeysUnavailable, "Passkeys need https (or a loopback host).")
        }
        guard let passkeys = components.browserSessions?.secondFactors?.passkeys, let key = components.flowKey,
            let forms = components.forms
        else {
            throw HTTPRefusal(503, .noSigningKey, "The server's keyring has no primary key, so it cannot sign anyone in.")
        }
        guard let party = Passkeys.relyingParty(portal: portal, browser: browser) else {
            throw HTTPRefusal(
                409, .passkeysUnavailable, "Passkeys need the portal on a host name, not an IP address (set portal_url to one).")
        }
        guard browser.isSameOrigin(publicURL: portal.publicURL) else {
            throw HTTPRefusal(403, .formRefused, "This request came from another site, so nothing was done.")
        }
        return (passkeys, key, forms, party)
    }

    private func ceremony(_ browser: BrowserRequest, key: AESGCMKey) -> PasskeyCeremony? {
        guard case .one(let sealed) = browser.cookie(Passkeys.cookie.name) else { return nil }
        return PasskeyCeremony.opened(sealed, with: key, now: components.clock.now())
    }

    private func passkeyFormRefused(_ browser: BrowserRequest, _ context: AgentRequestContext) -> HTTPRefusal {
        components.audit?.recordRefusal(
            action: "passkey.refused", code: ProblemCode.formRefused.rawValue, client: browser.client?.description ?? "-",
            actor: "anonymous", target: "POST portal", requestID: context.id)
        return HTTPRefusal(403, .formRefused, "This page expired, or you are not signed in. Open the page again and retry.")
    }

    private func noSuchPasskey(_ browser: BrowserRequest) -> Response {
        page(
            .notFound,
            PortalPage.message(
                portal, title: "No such passkey", text: "You have no passkey by that id.", link: (Self.sessionsPath, "Your sessions")),
            browser)
    }

    /// A passkey's name as given, trimmed; `nil` when empty, too long, or holding a control character.
    static func passkeyName(_ text: String?) -> String? {
        guard let name = text?.trimmingCharacters(in: .whitespaces), !name.isEmpty, name.count <= Passkeys.maximumNameLength,
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format })
        else { return nil }
        return name
    }
}
