import SecurityCore

/// The portal's pages, written as HTML in plain Swift (no template engine: four small pages, and
/// every value goes through ``escape(_:)``).
///
/// The pages load one stylesheet from the portal itself, and the pages that offer passkeys one
/// script from it (``PasskeyScript``), and nothing else: no inline script, no font, no image, no
/// third-party asset. The headers that go with them are ``headers(formTargets:)``.
enum PortalPage {
    /// One page: its title, a heading, and the HTML of its body (already escaped); with the
    /// passkey script when `script`.
    static func render(_ portal: PortalConfiguration, title: String, body: String, script: Bool = false) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="same-origin">
        <title>\(escape(title)) · \(escape(portal.title))</title>
        <link rel="stylesheet" href="\(PortalRoutes.stylesheetPath)">
        \(script ? #"<script src="\#(PortalRoutes.passkeyScriptPath)" defer></script>"# : "")
        </head>
        <body>
        <main>
        <p class="logo" aria-hidden="true">\(escape(portal.logoText))</p>
        <h1>\(escape(title))</h1>
        \(body)
        </main>
        </body>
        </html>

        """
    }

    /// The sign-in form. `returnURL` and `seal` travel in hidden fields; `error` is shown above
    /// the fields, announced to screen readers.
    static func signIn(
        _ portal: PortalConfiguration, csrf: String, returnURL: String, seal: String, username: String = "", error: String? = nil,
        providers: [(href: String, label: String)] = [], passkey: Bool = false
    ) -> String {
        let passkeyForm =
            passkey
            ? passkeyButton(purpose: "sign-in", label: "Sign in with a passkey", csrf: csrf, returnURL: returnURL, seal: seal) : ""
        let buttons = providers.map { #"<p><a class="button provider" href="\#(escape($0.href))">\#(escape($0.label))</a></p>"# }
        let form =
            portal.passwordSignIn
            ? """
            \(providers.isEmpty && !passkey ? "" : #"<p class="or">or with a password</p>"#)
            <form method="post" action="\(PortalRoutes.signInPath)">
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <input type="hidden" name="rd" value="\(escape(returnURL))">
            <input type="hidden" name="seal" value="\(escape(seal))">
            <label for="username">User name</label>
            <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="128" value="\(escape(username))"\(username.isEmpty ? " autofocus" : "")\(error != nil ? #" aria-describedby="error""# : "")>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"\(username.isEmpty ? "" : " autofocus")>
            <button type="submit">Sign in</button>
            </form>
            """ : ""
        return render(
            portal, title: "Sign in",
            body: """
                \(error.map { #"<p class="error" role="alert" id="error">\#(escape($0))</p>"# } ?? "")
                \(passkeyForm)
                \(buttons.joined(separator: "\n"))
                \(form)
                """, script: passkey)
    }

    /// A passkey ceremony's form (``PasskeyScript`` runs it; hidden without WebAuthn): `purpose` is
    /// `sign-in` or `second-factor`.
    static func passkeyButton(purpose: String, label: String, csrf: String, returnURL: String, seal: String) -> String {
        """
        <form class="passkey" data-passkey="\(escape(purpose))" hidden>
        <input type="hidden" name="csrf" value="\(escape(csrf))">
        <input type="hidden" name="rd" value="\(escape(returnURL))">
        <input type="hidden" name="seal" value="\(escape(seal))">
        <button type="submit" id="passkey-button">\(escape(label))</button>
        <p class="status" id="passkey-status" role="status"></p>
        </form>
        """
    }

    /// The second step of signing in: a code from an authenticator app (or a recovery code) when
    /// `totp`, a passkey when `passkey`, or, when `enrolment` is given, setting TOTP up first: the
    /// secret to add to the app and the `otpauth://` link that adds it.
    static func secondFactor(
        _ portal: PortalConfiguration, csrf: String, returnURL: String, seal: String, enrolment: (uri: String, secret: String)?,
        totp: Bool = true, passkey: Bool = false, error: String? = nil
    ) -> String {
        let setup = enrolment.map { enrolment in
            let grouped = stride(from: 0, to: enrolment.secret.count, by: 4).map { offset in
                String(enrolment.secret.dropFirst(offset).prefix(4))
            }.joined(separator: " ")
            return """
                <p>This account needs a second factor. Add this key to an authenticator app (on a phone, <a href="\(escape(enrolment.uri))">open it in the app</a>), then type the code it shows.</p>
                <p class="secret" id="secret" aria-label="The key">\(escape(grouped))</p>
                """
        }
        let showsCode = enrolment != nil || totp
        let passkeyForm =
            enrolment == nil && passkey
            ? passkeyButton(purpose: "second-factor", label: "Use a passkey", csrf: csrf, returnURL: returnURL, seal: seal) : ""
        let intro =
            showsCode
            ? (setup ?? "<p>Type the code your authenticator app shows, or one of your recovery codes.</p>")
            : passkey
                ? "<p>Confirm with one of your passkeys.</p>"
                : "<p>Your second factor is a passkey, which cannot be used at this address: open the sign-in page at the portal's host name.</p>"
        let codeForm =
            showsCode
            ? """
            <form method="post" action="\(PortalRoutes.secondFactorPath)">
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <input type="hidden" name="rd" value="\(escape(returnURL))">
            <input type="hidden" name="seal" value="\(escape(seal))">
            <label for="code">\(enrolment == nil ? "Code" : "Code from the app")</label>
            <input id="code" name="code" type="text" inputmode="\(enrolment == nil ? "text" : "numeric")" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" required maxlength="16" autofocus\(error != nil ? #" aria-describedby="error""# : "")>
            <button type="submit">\(enrolment == nil ? "Continue" : "Turn on and continue")</button>
            </form>
            """ : ""
        return render(
            portal, title: enrolment == nil ? "Second factor" : "Set up a second factor",
            body: """
                \(error.map { #"<p class="error" role="alert" id="error">\#(escape($0))</p>"# } ?? "")
                \(intro)
                \(passkeyForm)
                \(codeForm)
                """, script: !passkeyForm.isEmpty)
    }

    /// The recovery codes, shown once when a second factor is set up, and the way on.
    static func recoveryCodes(_ portal: PortalConfiguration, codes: [String], next: String) -> String {
        render(
            portal, title: "Save your recovery codes",
            body: """
                <p>Your second factor is on. If you lose the authenticator app, each of these codes signs you in once. Keep them somewhere safe: they are not shown again.</p>
                <ul class="codes" id="recovery-codes">
                \(codes.map { "<li><code>\(escape($0))</code></li>" }.joined(separator: "\n"))
                </ul>
                <p><a class="button" id="continue" href="\(escape(next))">Continue</a></p>
                """)
    }

    /// After signing out.
    static func signedOut(_ portal: PortalConfiguration) -> String {
        render(
            portal, title: "Signed out",
            body: """
                <p>You are signed out of this browser.</p>
                <p><a href="\(PortalRoutes.signInPath)">Sign in again</a></p>
                """)
    }

    /// A short message with a way on: an expired form, sign-in over plain http.
    static func message(_ portal: PortalConfiguration, title: String, text: String, link: (href: String, text: String)? = nil) -> String {
        render(
            portal, title: title,
            body: "<p>\(escape(text))</p>" + (link.map { #"<p><a href="\#(escape($0.href))">\#(escape($0.text))</a></p>"# } ?? ""))
    }

    /// "Your sessions": each live session of the user, the current one marked, each with a button
    /// that ends it, the user's passkeys (when `passkeys` is given) and linked providers, and the
    /// sign-out button.
    static func sessions(
        _ portal: PortalConfiguration, username: String, role: String, sessions: [BrowserSessionRecord], current: TokenID, csrf: String,
        links: [IdentityLink] = [], linkable: [(href: String, label: String)] = [], passkeys: [PasskeyRecord]? = nil
    ) -> String {
        let linked = links.map { link in
            #"<li><strong>\#(escape(link.provider))</strong>\#(link.email.isEmpty ? "" : " · " + escape(link.email)) <span class="meta">since \#(escape(UTCTimestamp.string(seconds: link.createdAt)))</span></li>"#
        }
        let accounts =
            linked.isEmpty && linkable.isEmpty
            ? ""
            : """
            <h2>Sign-in providers</h2>
            \(linked.isEmpty ? "<p>No provider is linked to this user.</p>" : #"<ul class="links" id="links">\#(linked.joined(separator: "\n"))</ul>"#)
            \(linkable.map { #"<p><a class="button secondary" href="\#(escape($0.href))">Link \#(escape($0.label))</a></p>"# }.joined(separator: "\n"))
            """
        let rows = sessions.map { session in
            let isCurrent = session.id == current
            return """
                <li>
                <p><strong>\(escape(describe(userAgent: session.userAgent)))</strong>\(isCurrent ? " <span class=\"tag\">this browser</span>" : "")</p>
                <p class="meta">From \(escape(session.client)) · signed in \(escape(UTCTimestamp.string(seconds: session.createdAt))) · last seen \(escape(UTCTimestamp.string(seconds: session.lastSeenAt)))</p>
                <form method="post" action="\(PortalRoutes.endSessionPath)">
                <input type="hidden" name="csrf" value="\(escape(csrf))">
                <input type="hidden" name="session" value="\(escape(session.id.hex))">
                <button type="submit" class="secondary" aria-label="End the session \(isCurrent ? "of this browser" : "from \(escape(session.client))")">End</button>
                </form>
                </li>
                """
        }
        return render(
            portal, title: "Your sessions",
            body: """
                <p>Signed in as <strong>\(escape(username))</strong> (\(escape(role))).</p>
                <ul class="sessions">
                \(rows.joined(separator: "\n"))
                </ul>
                \(passkeys.map { passkeyList($0, csrf: csrf) } ?? "")
                \(accounts)
                <form method="post" action="\(PortalRoutes.signOutPath)">
                <input type="hidden" name="csrf" value="\(escape(csrf))">
                <button type="submit">Sign out</button>
                </form>
                """, script: passkeys != nil)
    }

    /// The sessions page's passkeys: each with its name, when it was added and last used, a form
    /// that renames it and one that removes it; then the form that adds one.
    static func passkeyList(_ passkeys: [PasskeyRecord], csrf: String) -> String {
        let rows = passkeys.enumerated().map { index, passkey in
            """
            <li>
            <p><strong>\(escape(passkey.name))</strong></p>
            <p class="meta">Added \(escape(UTCTimestamp.string(seconds: passkey.createdAt))) · \(passkey.lastUsedAt.map { "last used " + escape(UTCTimestamp.string(seconds: $0)) } ?? "not used yet")</p>
            <form method="post" action="\(PortalRoutes.renamePasskeyPath)" class="row">
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <input type="hidden" name="id" value="\(escape(passkey.id))">
            <label for="rename-\(index)" class="quiet">New name for \(escape(passkey.name))</label>
            <input id="rename-\(index)" name="name" type="text" required maxlength="\(Passkeys.maximumNameLength)" value="\(escape(passkey.name))">
            <button type="submit" class="secondary">Rename</button>
            </form>
            <form method="post" action="\(PortalRoutes.removePasskeyPath)">
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <input type="hidden" name="id" value="\(escape(passkey.id))">
            <button type="submit" class="secondary" aria-label="Remove the passkey \(escape(passkey.name))">Remove</button>
            </form>
            </li>
            """
        }
        return """
            <h2>Passkeys</h2>
            \(rows.isEmpty ? "<p>No passkey yet. A passkey signs you in without a password, or confirms a sign-in as a second factor.</p>" : #"<ul class="sessions" id="passkeys">\#(rows.joined(separator: "\n"))</ul>"#)
            <form class="passkey" data-passkey="register" hidden>
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <label for="passkey-name">Name of a new passkey</label>
            <input id="passkey-name" name="name" type="text" required maxlength="\(Passkeys.maximumNameLength)" value="Passkey">
            <button type="submit" id="passkey-button">Add a passkey</button>
            <p class="status" id="passkey-status" role="status"></p>
            </form>
            """
    }

    /// A `User-Agent` in a few words: the browser and the system, when they can be told.
    static func describe(userAgent: String) -> String {
        let browsers = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl")]
        let systems = [
            ("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"), ("Mac OS X", "macOS"),
            ("Linux", "Linux"),
        ]
        let browser = browsers.first { userAgent.contains($0.0) }?.1
        let system = systems.first { userAgent.contains($0.0) }?.1
        switch (browser, system) {
        case (let browser?, let system?): return "\(browser) on \(system)"
        case (let browser?, nil): return browser
        case (nil, let system?): return "A browser on \(system)"
        case (nil, nil): return userAgent.isEmpty ? "An unnamed client" : String(userAgent.prefix(60))
        }
    }

    /// `text` safe in HTML text and in a double- or single-quoted attribute.
    static func escape(_ text: String) -> String {
        var escaped = [UInt8]()
        escaped.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): escaped += Array("&amp;".utf8)
            case UInt8(ascii: "<"): escaped += Array("&lt;".utf8)
            case UInt8(ascii: ">"): escaped += Array("&gt;".utf8)
            case UInt8(ascii: "\""): escaped += Array("&quot;".utf8)
            case UInt8(ascii: "'"): escaped += Array("&#39;".utf8)
            default: escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    /// The headers of every portal page: no caching, no framing, no referrer to another site (a
    /// return URL stays on the portal; `no-referrer` would also make the browser send
    /// `Origin: null` with the portal's own forms), nothing loaded but the portal's own
    /// stylesheet and passkey script (no inline script; its calls go to the portal only), and
    /// forms that post only to the portal (and redirect only to `formTargets`, the origins a
    /// sign-in may return to).
    static func headers(formTargets: [String]) -> [HeaderField] {
        let targets = (["'self'"] + formTargets).joined(separator: " ")
        return [
            HeaderField(name: "Content-Type", value: "text/html; charset=utf-8"),
            HeaderField(name: "Cache-Control", value: "no-store"),
            HeaderField(
                name: "Content-Security-Policy",
                value:
                    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action \(targets); frame-ancestors 'none'; base-uri 'none'"
            ),
            HeaderField(name: "X-Frame-Options", value: "DENY"),
            HeaderField(name: "X-Content-Type-Options", value: "nosniff"),
            HeaderField(name: "Referrer-Policy", value: "same-origin"),
        ]
    }

    /// The stylesheet: readable from a 320-pixel phone to a desktop, visible focus, system fonts.
    static let stylesheet = """
        :root { color-scheme: light dark; --accent: #2f5bd3; --error: #b3261e; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: Canvas; color: CanvasText; }
        main { max-width: 26rem; margin: 0 auto; padding: 2.5rem 1.25rem; }
        .logo { font-weight: 700; letter-spacing: .04em; color: var(--accent); margin: 0 0 1.5rem; }
        h1 { font-size: 1.5rem; margin: 0 0 1.25rem; }
        label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
        input[type=text], input[type=password] { width: 100%; font: inherit; padding: .65rem .75rem; border: 1px solid #8a8f98; border-radius: .4rem; background: Field; color: FieldText; }
        button { margin-top: 1.5rem; width: 100%; font: inherit; font-weight: 600; padding: .7rem 1rem; border: 0; border-radius: .4rem; background: var(--accent); color: #fff; cursor: pointer; }
        button.secondary { width: auto; margin-top: .5rem; padding: .35rem .9rem; background: transparent; color: var(--accent); border: 1px solid var(--accent); }
        :focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
        .error { color: var(--error); border-left: 4px solid var(--error); padding: .5rem .75rem; margin: 0 0 1rem; }
        .sessions { list-style: none; padding: 0; margin: 0; }
        .sessions li { border-top: 1px solid #8a8f9866; padding: .75rem 0; }
        .sessions p { margin: 0; overflow-wrap: anywhere; }
        .meta { font-size: .875rem; opacity: .8; }
        .tag { font-size: .75rem; font-weight: 600; padding: .1rem .45rem; border-radius: 1rem; background: var(--accent); color: #fff; }
        a { color: var(--accent); }
        .secret { font: 600 1.15rem/1.6 ui-monospace, "SFMono-Regular", Menlo, monospace; letter-spacing: .05em; overflow-wrap: anywhere; padding: .5rem .75rem; border: 1px dashed #8a8f98; border-radius: .4rem; }
        .codes { columns: 2; padding-left: 1.25rem; font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
        a.button.secondary { background: transparent; color: var(--accent); border: 1px solid var(--accent); }
        p.or { text-align: center; margin-top: 1.5rem; color: var(--muted, #555); }
        .status { min-height: 1.5em; margin: .5rem 0 0; }
        form.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-top: .5rem; }
        form.row input { flex: 1 1 10rem; width: auto; }
        form.row button { margin-top: 0; }
        .quiet { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
        h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
        a.button { display: block; text-align: center; margin-top: 1.5rem; padding: .7rem 1rem; border-radius: .4rem; background: var(--accent); color: #fff; font-weight: 600; text-decoration: none; }

        """
}
