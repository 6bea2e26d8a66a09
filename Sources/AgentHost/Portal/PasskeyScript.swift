/// `/auth/passkey.js`, the portal's one script (the pages allow `script-src 'self'` and nothing
/// inline): it runs a passkey ceremony for each `<form data-passkey="…">` on the page, which
/// stays hidden in a browser without WebAuthn.
///
/// A ceremony asks `POST /auth/passkeys/options` for its options (the form's `csrf`, the purpose),
/// hands them to `navigator.credentials.create` or `.get`, and posts what the authenticator
/// answers, base64url-encoded, to `/auth/passkeys/register` or `/auth/passkeys/sign-in`. A
/// refusal's `detail` is shown in the form's status line.
enum PasskeyScript {
    static let source = #"""
        "use strict";
        (function () {
          const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
          const text = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
          async function post(path, body) {
            const response = await fetch(path, {
              method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "Accept": "application/json" },
              body: JSON.stringify(body),
            });
            const answer = await response.json().catch(() => ({}));
            if (!response.ok) { throw new Error(answer.detail || "The server refused the passkey (" + response.status + ")."); }
            return answer;
          }
          function decode(options) {
            options.challenge = bytes(options.challenge);
            if (options.user) { options.user.id = bytes(options.user.id); }
            for (const list of [options.excludeCredentials, options.allowCredentials]) {
              for (const credential of list || []) { credential.id = bytes(credential.id); }
            }
            return options;
          }
          async function ceremony(form) {
            const fields = Object.fromEntries(new FormData(form));
            const purpose = form.dataset.passkey;
            const options = decode((await post("/auth/passkeys/options", { purpose: purpose, csrf: fields.csrf })).publicKey);
            if (purpose === "register") {
              const credential = await navigator.credentials.create({ publicKey: options });
              await post("/auth/passkeys/register", {
                csrf: fields.csrf, name: fields.name || "Passkey", id: credential.id,
                clientDataJSON: text(credential.response.clientDataJSON),
                attestationObject: text(credential.response.attestationObject),
              });
              window.location.reload();
              return;
            }
            const credential = await navigator.credentials.get({ publicKey: options });
            const answer = await post("/auth/passkeys/sign-in", {
              csrf: fields.csrf, rd: fields.rd || "", seal: fields.seal || "", id: credential.id,
              clientDataJSON: text(credential.response.clientDataJSON),
              authenticatorData: text(credential.response.authenticatorData),
              signature: text(credential.response.signature),
              userHandle: credential.response.userHandle ? text(credential.response.userHandle) : "",
            });
            window.location.assign(answer.redirect);
          }
          function start() {
            if (!window.PublicKeyCredential) { return; }
            for (const form of document.querySelectorAll("form[data-passkey]")) {
              form.hidden = false;
              const status = form.querySelector(".status");
              form.addEventListener("submit", (event) => {
                event.preventDefault();
                status.textContent = "Waiting for the passkey…";
                ceremony(form).catch((error) => {
                  status.textContent = error.name === "NotAllowedError" ? "The passkey was not used." : error.message;
                });
              });
            }
          }
          if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
        })();

        """#
}
