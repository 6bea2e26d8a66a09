"""Single sign-on in a real browser (scripts/browser-test runs this after portal.py).

Two OpenID Connect providers at once, both real: oidc-provider-mock (PyPI) on 127.0.0.1 as
"mock", and a second oidc-provider-mock behind a small interposer of this file's own as "corp".
The interposer is the provider AgentHost is configured with: its discovery sends the browser to
the second mock to sign in, and its token endpoint redeems the code there and hands AgentHost an
id_token re-signed with its own key, correct or spoiled on request (another audience, expired, a
key it does not publish), because the mock issues only good ones.

AgentHost serves the portal behind nginx (Docs/examples/nginx-portal.conf) with a protected app.
Headless Chromium, driven by Selenium, presses each provider's button and signs in at the mock's
page; a person of an allowed domain gets in with the role their groups map to, another domain is
refused with a page that says why, a tampered state, a replayed code and each spoiled id_token
are refused. Everything listens on 127.0.0.1 and stops at the end.
"""

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from common import (App, agenthost, browser, check, failures, finish, free_ports, leave_by, loaded, path_of, serve_behind_nginx,
                    shot, text, wait_port, wind_down)
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BINARY = os.environ["AGENTHOST_BROWSER_BINARY"]
NGINX = os.environ["AGENTHOST_BROWSER_NGINX"]
MOCK = os.path.join(os.path.dirname(sys.executable), "oidc-provider-mock")

timings = []


SERVER, APP, FRONT_PORT, MOCK_A, MOCK_B, INTERPOSER = free_ports(6)
FRONT = f"http://127.0.0.1:{FRONT_PORT}"
MOCK_URL = f"http://127.0.0.1:{MOCK_A}"
CORP_MOCK_URL = f"http://127.0.0.1:{MOCK_B}"
CORP_URL = f"http://127.0.0.1:{INTERPOSER}"

USERS = [
    {"sub": "alice", "email": "alice@example.com", "email_verified": True, "groups": ["engineering"], "preferred_username": "alice"},
    {"sub": "bob", "email": "bob@other.example", "email_verified": True, "groups": ["engineering"]},
    {"sub": "erin", "email": "erin@corp.example", "email_verified": True, "groups": ["corp-admins"], "preferred_username": "erin"},
]

CONFIG = f"""
portal: true
trusted_proxy: [127.0.0.1]
protected_host: [127.0.0.1]
rate_limit: ["general=1000/1m", "sensitive=1000/1m", "auth-failures=1000/1m"]
oidc_providers:
  mock:
    issuer: {MOCK_URL}
    client_id: agenthost-browser-test
    label: Sign in with Mock
    allowed_domains: [example.com]
    role_claim: groups
    roles: {{engineering: member}}
  corp:
    issuer: {CORP_URL}
    client_id: agenthost-corp
    label: Sign in with Corp
    allowed_domains: [corp.example]
    role_claim: groups
    roles: {{corp-admins: admin}}
"""


class Interposer(http.server.BaseHTTPRequestHandler):
    """The "corp" provider as AgentHost sees it, in front of the second mock."""

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mode = "good"

    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            self.send_json({
                "issuer": CORP_URL, "authorization_endpoint": f"{CORP_MOCK_URL}/oauth2/authorize",
                "token_endpoint": f"{CORP_URL}/token", "jwks_uri": f"{CORP_URL}/jwks", "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"], "subject_types_supported": ["public"],
            })
        elif self.path == "/jwks":
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            self.send_json({"keys": [dict(public, kid="corp-1", alg="RS256", use="sig")]})
        elif self.path.startswith("/_mode/"):
            Interposer.mode = self.path.rsplit("/", 1)[1]
            self.send_json({"mode": Interposer.mode})
        else:
            self.send_json({"error": "not_found"}, 404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = urllib.request.Request(f"{CORP_MOCK_URL}/oauth2/token", data=body, headers={
            "Content-Type": self.headers.get("Content-Type", ""), "Authorization": self.headers.get("Authorization", "")})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            self.send_json(json.loads(error.read() or b"{}"), error.code)
            return
        claims = jwt.decode(answer["id_token"], options={"verify_signature": False})
        claims["iss"] = CORP_URL
        key, kid = self.key, "corp-1"
        if self.mode == "aud":
            claims["aud"] = "someone-else"
        elif self.mode == "expired":
            claims["iat"] = int(time.time()) - 3600
            claims["exp"] = int(time.time()) - 1800
        elif self.mode == "unknown-key":
            key, kid = self.rogue, "corp-2"
        answer["id_token"] = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        self.send_json(answer)

    def send_json(self, value, status=200):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start(directory):
    processes = []
    for port in (MOCK_A, MOCK_B):
        log = open(f"{directory}/mock-{port}.log", "w")
        arguments = [MOCK, "--port", str(port)]
        for user in USERS:
            arguments += ["--user-claims", json.dumps(user)]
        processes.append(subprocess.Popen(arguments, stdout=log, stderr=log))
        wait_port(port, processes[-1], f"oidc-provider-mock on {port}")

    def secrets(directory):
        # Each provider's client secret, from standard input, into the vault the server reads it from.
        for provider in ("mock", "corp"):
            agenthost(BINARY, "oidc", "set-secret", provider, stdin="browser-test-secret-" + provider + "\n", directory=directory)

    return processes + serve_behind_nginx(
        BINARY, NGINX, directory, CONFIG, {"server": SERVER, "front": FRONT_PORT, "app": APP}, prepare=secrets)


def press(driver, label):
    """Presses the provider button called `label` on the sign-in page."""
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.LINK_TEXT, label))
    driver.find_element(By.LINK_TEXT, label).click()
    WebDriverWait(driver, 10).until(lambda d: "/oauth2/authorize" in d.current_url)


def choose(driver, sub):
    """Signs in at the mock's page as predefined user `sub`."""
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.XPATH, f"//button[@value='{sub}']"))
    driver.find_element(By.XPATH, f"//button[@value='{sub}']").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.startswith(FRONT) and "/oauth2/" not in d.current_url
                                    and "/auth/oidc/" not in d.current_url)
    loaded(driver)


def sign_in(driver, label, sub, page="/board"):
    driver.delete_all_cookies()
    driver.get(f"{FRONT}{page}")
    started = time.monotonic()
    press(driver, label)
    choose(driver, sub)
    return time.monotonic() - started


def set_mode(mode):
    with urllib.request.urlopen(f"{CORP_URL}/_mode/{mode}", timeout=5) as response:
        response.read()


def last_callback(directory, provider):
    with open(f"{directory}/access.log") as file:
        lines = [line.strip() for line in file if line.startswith(f"/auth/oidc/{provider}/callback?")]
    return lines[-1] if lines else ""


def scenarios(driver, directory):
    # The sign-in page has a button per provider beside the password form.
    driver.get(f"{FRONT}/board")
    check(path_of(driver) == "/auth/sign-in", f"a protected page while signed out lands on sign-in ({driver.current_url})")
    buttons = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "a.button.provider")]
    check(buttons == ["Sign in with Mock", "Sign in with Corp"] and driver.find_elements(By.ID, "password"),
          f"the sign-in page shows both providers' buttons beside the password form ({buttons})")
    shot(driver, "portal-sign-in-sso.png")

    # A person of an allowed domain, at the first provider.
    timings.append(sign_in(driver, "Sign in with Mock", "alice"))
    check(path_of(driver) == "/board" and text(driver, "user") == "alice" and text(driver, "role") == "member",
          f"alice@example.com signs in through Mock and is back on the page as a member ({driver.current_url}, "
          f"{text(driver, 'user')}, {text(driver, 'role')})")
    first_code = last_callback(directory, "mock")
    for _ in range(4):
        timings.append(sign_in(driver, "Sign in with Mock", "alice"))

    # Another domain: refused, with a page that says why.
    driver.delete_all_cookies()
    driver.get(f"{FRONT}/board")
    press(driver, "Sign in with Mock")
    leave_by(driver, driver.find_element(By.XPATH, "//button[@value='bob']"))
    check("Accounts of other.example may not sign in here" in driver.page_source and text(driver, "user") is None,
          "bob@other.example is refused with a page that says why")
    shot(driver, "portal-sso-refused.png")

    # A tampered state: the mock sends the browser back with the state it was given.
    driver.delete_all_cookies()
    driver.get(f"{FRONT}/board")
    press(driver, "Sign in with Mock")
    url = urllib.parse.urlsplit(driver.current_url)
    query = urllib.parse.parse_qs(url.query)
    query["state"] = [query["state"][0][:-2] + ("AA" if not query["state"][0].endswith("AA") else "BB")]
    driver.get(urllib.parse.urlunsplit(url._replace(query=urllib.parse.urlencode(query, doseq=True))))
    leave_by(driver, driver.find_element(By.XPATH, "//button[@value='alice']"))
    check("does not belong to it (state)" in driver.page_source and "__Host-agenthost_session" not in
          {c["name"] for c in driver.get_cookies()}, "a tampered state is refused")

    # A replayed code: a fresh sign-in's state, with a code the provider redeemed already.
    driver.delete_all_cookies()
    driver.get(f"{FRONT}/board")
    press(driver, "Sign in with Mock")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(driver.current_url).query)["state"][0]
    old = urllib.parse.parse_qs(urllib.parse.urlsplit(first_code).query)
    driver.get(f"{FRONT}/auth/oidc/mock/callback?" + urllib.parse.urlencode({"code": old["code"][0], "state": state}))
    loaded(driver)
    check("refused the code" in driver.page_source and "__Host-agenthost_session" not in {c["name"] for c in driver.get_cookies()},
          f"a replayed code is refused by the provider, and so is the sign-in ({text(driver, 'page') or driver.title})")

    # The second provider, through the interposer: a good id_token, then three spoiled ones.
    set_mode("good")
    timings_corp = sign_in(driver, "Sign in with Corp", "erin")
    check(text(driver, "user") == "erin" and text(driver, "role") == "admin",
          f"erin@corp.example signs in through Corp, the second provider, as an admin ({text(driver, 'user')}, {text(driver, 'role')})")
    for mode, shown in (("aud", "(aud)"), ("expired", "(exp)"), ("unknown-key", "does not publish")):
        set_mode(mode)
        driver.delete_all_cookies()
        driver.get(f"{FRONT}/board")
        press(driver, "Sign in with Corp")
        leave_by(driver, driver.find_element(By.XPATH, "//button[@value='erin']"))
        check(shown in driver.page_source and text(driver, "user") is None, f"an id_token with {mode} is refused ({shown})")
    set_mode("good")
    return timings_corp


def main():
    directory = tempfile.mkdtemp(prefix="agenthost-sso.")
    servers = []
    for port, handler in ((APP, App), (INTERPOSER, Interposer)):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    processes = []
    driver = None
    try:
        processes = start(directory)
        driver = browser()
        scenarios(driver, directory)
    except TimeoutException as error:
        failures.append(f"timed out: {error.msg}")
        print(f"FAIL timed out at {driver.current_url if driver else '-'}", flush=True)
    finally:
        wind_down(driver, servers, processes, directory)
    finish("sso", timings, "a sign-in through oidc-provider-mock, from the button to back at the app")


if __name__ == "__main__":
    main()
