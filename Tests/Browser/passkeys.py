"""Passkeys in a real browser (scripts/browser-test runs this after sso.py).

AgentHost serves the portal behind nginx (Docs/examples/nginx-portal.conf) with a protected app, on
127.0.0.1, reached by the browser as http://localhost:PORT (a WebAuthn relying party is a host
name, never an IP address). Headless Chromium, driven by Selenium, has a virtual authenticator
(WebDriver's WebAuthn extension: a platform authenticator with discoverable credentials and user
verification). A person adds a passkey from the sessions page, signs in with it alone, uses it
as the second factor after the password, and removes it.

Every ceremony the browser runs is recorded on its way to the server, and py_webauthn, a second
verifier, checks the same bytes: the registration, and the assertion with the key py_webauthn
itself took from that registration. Then the answers that must fail: the browser's assertion
replayed, the credential's key copied out of the authenticator signing with a counter that did
not go up, and the browser's own credential used from another origin (the protected app's port).
Everything listens on 127.0.0.1 and stops at the end.
"""

import base64
import hashlib
import http.server
import json
import os
import struct
import tempfile
import threading
import time
import urllib.error
import urllib.request

from common import (App, agenthost, browser, check, failures, finish, free_ports, leave_by, loaded, path_of, serve_behind_nginx,
                    shot, text, wind_down)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait
from webauthn import verify_authentication_response, verify_registration_response

BINARY = os.environ["AGENTHOST_BROWSER_BINARY"]
NGINX = os.environ["AGENTHOST_BROWSER_NGINX"]
SERVER, APP, FRONT_PORT = free_ports(3)
FRONT = f"http://localhost:{FRONT_PORT}"
PASSWORD = "correct horse battery staple"

timings = []

CONFIG = """
portal: true
trusted_proxy: [127.0.0.1]
protected_host: [localhost]
rate_limit: ["general=1000/1m", "sensitive=1000/1m", "auth-failures=1000/1m"]
"""

# Wraps the page's fetch so that each ceremony's options and answer are kept in sessionStorage,
# which outlives the navigation that follows a ceremony.
RECORD = """
if (!window.__recording) {
  window.__recording = true;
  const original = window.fetch;
  window.fetch = async (path, init) => {
    const response = await original(path, init);
    const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
    seen.push({path: String(path), body: init && init.body ? JSON.parse(init.body) : null, status: response.status,
               answer: await response.clone().text()});
    sessionStorage.setItem("seen", JSON.stringify(seen));
    return response;
  };
}
"""


def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def start(directory):
    def users(directory):
        agenthost(BINARY, "users", "add", "--username", "alice", "--role", "member", stdin=PASSWORD + "\n", directory=directory)

    return serve_behind_nginx(
        BINARY, NGINX, directory, CONFIG, {"server": SERVER, "front": FRONT_PORT, "app": APP}, prepare=users)


def record(driver):
    driver.execute_script("sessionStorage.removeItem('seen');" + RECORD)


def recorded(driver):
    return driver.execute_script("return JSON.parse(sessionStorage.getItem('seen') || '[]')")


def seen(entries, path):
    return next((entry for entry in reversed(entries) if entry["path"] == path), None)


def sign_in_with_password(driver, page="/board"):
    driver.delete_all_cookies()
    driver.get(f"{FRONT}{page}")
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "password"))
    driver.find_element(By.ID, "username").send_keys("alice")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    form = driver.find_element(By.ID, "password")
    form.submit()
    WebDriverWait(driver, 10).until(staleness_of(form))
    loaded(driver)


def press_passkey(driver, then):
    """Presses the page's passkey button and waits until `then` holds."""
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "passkey-button").is_displayed())
    record(driver)
    driver.find_element(By.ID, "passkey-button").click()
    WebDriverWait(driver, 10).until(then)
    loaded(driver)


class Session:
    """A client of the portal's JSON routes from Python, as a script on the portal's page would be:
    its own cookies (sent by hand: Python's cookie jar keeps Secure cookies off http://localhost)."""

    def __init__(self):
        self.cookies = {}

    def call(self, method, path, body=None):
        headers = {"Sec-Fetch-Site": "same-origin", "Origin": FRONT,
                   "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(FRONT + path, data=data, headers=headers, method=method)
        try:
            response = urllib.request.urlopen(request, timeout=10)
            status, answer, fields = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            status, answer, fields = error.code, error.read().decode(), error.headers
        for cookie in fields.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            if "Max-Age=0" in cookie:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return status, answer

    def begin_sign_in(self):
        """The sign-in page's fields, and a passwordless ceremony's challenge."""
        _, page = self.call("GET", "/auth/sign-in")
        fields = {name: field(page, name) for name in ("csrf", "rd", "seal")}
        status, answer = self.call("POST", "/auth/passkeys/options", {"purpose": "sign-in", "csrf": fields["csrf"]})
        check(status == 200, f"a script's passwordless sign-in gets its options ({status})")
        return fields, json.loads(answer)["publicKey"]["challenge"]


def detail(answer):
    """A refusal's `detail`, for the record."""
    try:
        return json.loads(answer).get("detail", answer)
    except ValueError:
        return answer[:200]


def field(page, name):
    marker = f'name="{name}" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)].replace("&amp;", "&").replace("&quot;", '"')


def copied_key_assertion(credential, challenge, counter):
    """An assertion signed outside the authenticator, with the private key the virtual
    authenticator hands out (a key copied off a device), and a counter of our choosing."""
    key = serialization.load_der_private_key(unb64(credential.private_key), password=None)
    authenticator_data = hashlib.sha256(b"localhost").digest() + bytes([0x05]) + struct.pack(">I", counter)
    client = json.dumps({"type": "webauthn.get", "challenge": challenge, "origin": FRONT, "crossOrigin": False},
                        separators=(",", ":")).encode()
    signed = authenticator_data + hashlib.sha256(client).digest()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(signed)
    else:
        raise SystemExit(f"the virtual authenticator's key is a {type(key).__name__}")
    return {"id": credential.id.rstrip("="), "clientDataJSON": b64(client), "authenticatorData": b64(authenticator_data),
            "signature": b64(signature), "userHandle": ""}


# Run on the protected app's origin (http://localhost:APP): the browser's credential for
# "localhost", asked for with a challenge AgentHost issued, signs client data naming that origin.
OTHER_ORIGIN = """
const [challenge, id, done] = arguments;
const bytes = (t) => Uint8Array.from(atob(t.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const text = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
navigator.credentials.get({publicKey: {challenge: bytes(challenge), rpId: "localhost", userVerification: "required",
                                       allowCredentials: [{type: "public-key", id: bytes(id)}]}})
  .then((c) => done({id: c.id, clientDataJSON: text(c.response.clientDataJSON), authenticatorData: text(c.response.authenticatorData),
                     signature: text(c.response.signature), userHandle: ""}))
  .catch((e) => done({error: e.name + ": " + e.message}));
"""


def scenarios(driver, directory):
    driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
        protocol="ctap2", transport="internal", has_resident_key=True, has_user_verification=True, is_user_verified=True))

    # Added from the sessions page, after a password sign-in.
    sign_in_with_password(driver)
    check(text(driver, "user") == "alice", f"alice signs in with her password ({text(driver, 'user')})")
    driver.get(f"{FRONT}/auth/sessions")
    name = driver.find_element(By.ID, "passkey-name")
    name.clear()
    name.send_keys("Laptop")
    press_passkey(driver, lambda d: d.find_elements(By.ID, "passkeys"))
    listed = driver.find_element(By.ID, "passkeys").text
    credentials = driver.get_credentials()
    check("Laptop" in listed and len(credentials) == 1 and credentials[0].rp_id == "localhost"
          and credentials[0].is_resident_credential,
          f"a passkey is added from the sessions page, discoverable, for localhost ({listed!r}, {len(credentials)} credential)")
    shot(driver, "portal-passkeys.png")
    entries = recorded(driver)
    options, made = seen(entries, "/auth/passkeys/options"), seen(entries, "/auth/passkeys/register")
    challenge = json.loads(options["answer"])["publicKey"]["challenge"]
    body = made["body"]
    registration = verify_registration_response(
        credential={"id": body["id"], "rawId": body["id"], "type": "public-key",
                    "response": {"clientDataJSON": body["clientDataJSON"], "attestationObject": body["attestationObject"]}},
        expected_challenge=unb64(challenge), expected_rp_id="localhost", expected_origin=FRONT)
    check(made["status"] == 201 and registration.credential_id == unb64(body["id"]),
          f"py_webauthn verifies the registration the server accepted (status {made['status']}, "
          f"COSE algorithm {json.loads(options['answer'])['publicKey']['pubKeyCredParams'][0]['alg']} asked first)")

    # Signed in with the passkey alone, from a protected page.
    driver.delete_all_cookies()
    driver.get(f"{FRONT}/board")
    check(path_of(driver) == "/auth/sign-in", "a protected page while signed out lands on sign-in")
    shot(driver, "portal-sign-in-passkey.png")
    started = time.monotonic()
    press_passkey(driver, lambda d: path_of(d) == "/board")
    timings.append(time.monotonic() - started)
    check(text(driver, "user") == "alice" and text(driver, "role") == "member",
          f"the passkey alone signs alice in, back on the page she asked for ({text(driver, 'user')}, {text(driver, 'role')})")
    entries = recorded(driver)
    options, used = seen(entries, "/auth/passkeys/options"), seen(entries, "/auth/passkeys/sign-in")
    body = used["body"]
    authentication = verify_authentication_response(
        credential={"id": body["id"], "rawId": body["id"], "type": "public-key",
                    "response": {"clientDataJSON": body["clientDataJSON"], "authenticatorData": body["authenticatorData"],
                                 "signature": body["signature"], "userHandle": body["userHandle"] or None}},
        expected_challenge=unb64(json.loads(options["answer"])["publicKey"]["challenge"]), expected_rp_id="localhost",
        expected_origin=FRONT, credential_public_key=registration.credential_public_key,
        credential_current_sign_count=registration.sign_count, require_user_verification=True)
    check(used["status"] == 200 and authentication.new_sign_count > registration.sign_count,
          f"py_webauthn verifies the assertion the server accepted, with the key it took from the registration "
          f"(counter {registration.sign_count} -> {authentication.new_sign_count})")
    replayed_body = body
    # How long a passkey sign-in takes, from the button to back at the app: four more.
    for _ in range(4):
        driver.delete_all_cookies()
        driver.get(f"{FRONT}/board")
        started = time.monotonic()
        press_passkey(driver, lambda d: path_of(d) == "/board" and text(d, "user") == "alice")
        timings.append(time.monotonic() - started)

    # The second factor after the password: a passkey, and no code field (alice has no TOTP).
    sign_in_with_password(driver)
    check(driver.title.startswith("Second factor") and driver.find_elements(By.ID, "passkey-button")
          and not driver.find_elements(By.ID, "code"),
          f"with a passkey, the password leads to the passkey as the second factor ({driver.title})")
    shot(driver, "portal-second-factor-passkey.png")
    press_passkey(driver, lambda d: path_of(d) == "/board")
    check(text(driver, "user") == "alice", f"the passkey as second factor signs alice in ({text(driver, 'user')})")

    # The browser's assertion replayed by a script, in a ceremony of its own.
    script = Session()
    fields, _ = script.begin_sign_in()
    status, answer = script.call("POST", "/auth/passkeys/sign-in", dict(replayed_body, **fields))
    check(status == 401 and "challenge" in answer and "__Host-agenthost_session" not in script.cookies,
          f"a replayed assertion is refused ({status}: {detail(answer)})")

    # The key copied off the authenticator: a valid signature, but the counter did not go up.
    credential = driver.get_credentials()[0]
    fields, challenge = script.begin_sign_in()
    status, answer = script.call("POST", "/auth/passkeys/sign-in",
                                 dict(copied_key_assertion(credential, challenge, credential.sign_count), **fields))
    check(status == 401 and "counter did not go up" in answer,
          f"an assertion whose counter does not go up is refused ({status}: {detail(answer)})")

    # The browser's own credential, used from another origin (the app's port).
    fields, challenge = script.begin_sign_in()
    driver.get(f"http://localhost:{APP}/elsewhere")
    elsewhere = driver.execute_async_script(OTHER_ORIGIN, challenge, credential.id.rstrip("="))
    status, answer = (0, elsewhere.get("error", "")) if "error" in elsewhere else script.call(
        "POST", "/auth/passkeys/sign-in", dict(elsewhere, **fields))
    check(status == 401 and "origin" in answer, f"an assertion made on another origin is refused ({status}: {detail(answer)})")

    # Removed: the authenticator still has it, but it no longer signs anyone in.
    sign_in_with_password(driver, page="/auth/sessions")
    press_passkey(driver, lambda d: path_of(d) == "/auth/sessions")
    leave_by(driver, driver.find_element(By.CSS_SELECTOR, "button[aria-label='Remove the passkey Laptop']"))
    check(not driver.find_elements(By.ID, "passkeys") and "No passkey yet" in driver.page_source,
          "the passkey is removed from the sessions page")
    driver.delete_all_cookies()
    driver.get(f"{FRONT}/board")
    driver.find_element(By.ID, "passkey-button").click()
    WebDriverWait(driver, 10).until(lambda d: "not registered" in (text(d, "passkey-status") or ""))
    check("__Host-agenthost_session" not in {c["name"] for c in driver.get_cookies()},
          f"a removed passkey signs no one in ({text(driver, 'passkey-status')})")


def phone_shot(directory):
    """The sessions page with a passkey, 320 pixels wide: alice's password, then the passkey
    the phone's own authenticator adds."""
    driver = browser(phone=True)
    try:
        driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
            protocol="ctap2", transport="internal", has_resident_key=True, has_user_verification=True, is_user_verified=True))
        sign_in_with_password(driver, page="/auth/sessions")
        driver.find_element(By.ID, "passkey-name").clear()
        driver.find_element(By.ID, "passkey-name").send_keys("Phone")
        press_passkey(driver, lambda d: d.find_elements(By.ID, "passkeys"))
        width = driver.execute_script("return document.documentElement.scrollWidth")
        check(width <= 320, f"the sessions page with a passkey fits a 320-pixel phone (scroll width {width})")
        shot(driver, "portal-passkeys-phone.png")
    finally:
        driver.quit()


def main():
    directory = tempfile.mkdtemp(prefix="agenthost-passkeys.")
    app = http.server.ThreadingHTTPServer(("127.0.0.1", APP), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    processes = []
    driver = None
    try:
        processes = start(directory)
        driver = browser()
        scenarios(driver, directory)
        phone_shot(directory)
    except TimeoutException as error:
        failures.append(f"timed out: {error.msg}")
        print(f"FAIL timed out at {driver.current_url if driver else '-'}", flush=True)
    finally:
        wind_down(driver, [app], processes, directory)
    finish("passkeys", timings, "a sign-in with a passkey alone, from the button to back at the app")


if __name__ == "__main__":
    main()
