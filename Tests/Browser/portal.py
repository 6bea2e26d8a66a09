"""The sign-in portal in a real browser (scripts/browser-test runs this).

Two AgentHost servers share one PostgreSQL store, with the portal on. nginx puts one protected app
behind each server (auth_request, error_page 401 =302 with the Location AgentHost gives); Caddy puts
the same app behind the first (forward_auth, which passes AgentHost's 302 on). A headless Chromium,
driven by Selenium, then does what a person would: opens a protected page signed out, signs in,
comes back, mistypes a password until the limit, is attacked by a cross-site form and by return
URLs that leave, signs out on one server and is asked to sign in on the other, and is refused a
members' page as a viewer. The app verifies the signed identity (X-Auth-Assertion) with PyJWT
against the served keys, for people and agents, before and after a key rotation with SIGHUP. Every
server listens on 127.0.0.1 and everything stops at the end.
"""

import html
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.error
import urllib.request

import jwt
import pyotp
from common import SHOTS, browser, check, failures, free_ports, path_of, shot, show_logs, stop, text
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium.webdriver.support import expected_conditions as EC

BINARY = os.environ["AGENTHOST_BROWSER_BINARY"]
NGINX = os.environ["AGENTHOST_BROWSER_NGINX"]
DATABASE = os.environ["AGENTHOST_TEST_POSTGRES_URL"]
PASSWORD = "correct horse battery"
FAILURES = 3  # login-failures per account, for this run







A, B, APP, NGINX_A, NGINX_B, CADDY = free_ports(6)
FRONT_A, FRONT_B, FRONT_CADDY = (f"http://127.0.0.1:{port}" for port in (NGINX_A, NGINX_B, CADDY))
# Another site: the app itself, by another host name.
EVIL = f"http://localhost:{APP}"


# The platform's copy of AgentHost's public keys, fetched again when an assertion names a key it
# does not hold (after a rotation), as PyJWT's client does.
KEYS = None


def verified_identity(headers):
    """What X-Auth-Assertion proves, checked as a platform would with PyJWT: "sub role method kid",
    or "invalid: <why>"."""
    global KEYS
    assertion = headers.get("X-Auth-Assertion")
    if not assertion:
        return "none"
    if KEYS is None:
        # A short cooldown, as Docs/FORWARD_AUTH.md advises: PyJWT's default (30 s between forced
        # fetches) would refuse a rotated key's assertions for up to 30 s.
        KEYS = jwt.PyJWKClient(f"http://127.0.0.1:{A}/.well-known/jwks.json", cooldown_duration=1)
    try:
        key = KEYS.get_signing_key_from_jwt(assertion)
        claims = jwt.decode(assertion, key, algorithms=["EdDSA"], audience="127.0.0.1", issuer="agenthost",
                            options={"require": ["exp", "iat", "jti", "sub", "aud", "iss"]})
        ASSERTIONS.append(assertion)
        return f"{claims['sub']} {claims['role']} {claims['method']} {jwt.get_unverified_header(assertion)['kid']}"
    except Exception as error:
        return f"invalid: {type(error).__name__}: {error}"


ASSERTIONS = []


class App(http.server.BaseHTTPRequestHandler):
    """The protected platform: shows who AgentHost says the visitor is, and what its signed
    assertion proves, and serves the attacker's pages when asked by the other name."""

    def do_GET(self):
        if self.path.startswith("/evil/"):
            body = evil_page(self.path)
        else:
            user = html.escape(self.headers.get("X-Auth-User", "-"))
            role = html.escape(self.headers.get("X-Auth-Role", "-"))
            identity = html.escape(verified_identity(self.headers))
            body = (f"<!doctype html><title>App</title><h1 id='page'>{html.escape(self.path)}</h1>"
                    f"<p id='user'>{user}</p><p id='role'>{role}</p><p id='assertion'>{identity}</p>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def evil_page(path):
    """A cross-site page that posts a form to the portal as soon as it loads."""
    target, encoding, fields = {
        "/evil/sign-out-plain": (f"{FRONT_A}/auth/sign-out", "text/plain", {"csrf": "x"}),
        "/evil/sign-out-form": (f"{FRONT_A}/auth/sign-out", "application/x-www-form-urlencoded", {"csrf": "stolen"}),
        "/evil/sign-in": (f"{FRONT_A}/auth/sign-in", "application/x-www-form-urlencoded",
                          {"username": "alice", "password": PASSWORD, "rd": "https://evil.example/"}),
    }[path]
    inputs = "".join(f"<input type='hidden' name='{k}' value='{html.escape(v)}'>" for k, v in fields.items())
    return (f"<!doctype html><title>Evil</title><form id='f' method='post' action='{target}' enctype='{encoding}'>{inputs}"
            f"</form><script>document.getElementById('f').submit()</script>")


POLICY = """
version: 1
anonymous: false
actions: [members.read, upstream.read, upstream.write]
routes:
  - {id: members, method: GET, path: "/members/**", action: members.read}
  - {id: upstream-get, method: GET, path: "/**", action: upstream.read}
  - {id: upstream-other, method: "*", path: "/**", action: upstream.write}
rules:
  - {id: read, effect: permit, actions: [upstream.read]}
  - {id: members, effect: permit, actions: [members.read], min_role: member}
"""


EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Docs/examples/nginx-portal.conf")


def nginx_conf(directory):
    """Docs/examples/nginx-portal.conf, once per server: its TLS lines swapped for a plain listen
    on 127.0.0.1, its upstreams pointed at this run's ports."""
    with open(EXAMPLE) as file:
        example = file.read()
    servers = ""
    for index, (listen, backend) in enumerate(((NGINX_A, A), (NGINX_B, B))):
        block = example.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
        block = "\n".join(line for line in block.split("\n") if "ssl_certificate" not in line and "server_name" not in line)
        block = block.replace("127.0.0.1:8080", f"127.0.0.1:{backend}").replace("127.0.0.1:3000", f"127.0.0.1:{APP}")
        servers += block.replace("upstream agenthost", f"upstream agenthost{index}").replace("http://agenthost", f"http://agenthost{index}") \
            .replace("upstream dashboard", f"upstream dashboard{index}").replace("http://dashboard", f"http://dashboard{index}")
    return f"""daemon off;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body;
  proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi;
  uwsgi_temp_path {directory}/uwsgi;
  scgi_temp_path {directory}/scgi;
{servers}
}}
"""


CADDYFILE = f"""{{
  admin off
  auto_https off
}}
http://127.0.0.1:{CADDY} {{
  handle /auth/* {{
    reverse_proxy 127.0.0.1:{A}
  }}
  handle {{
    forward_auth 127.0.0.1:{A} {{
      uri /auth/verify
      copy_headers X-Auth-User X-Auth-Role X-Auth-Assertion
    }}
    reverse_proxy 127.0.0.1:{APP}
  }}
}}
"""


def wait_ready(url, process, name):
    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise SystemExit(f"{name} did not start")


def agenthost(*arguments, stdin=None, directory):
    environment = dict(os.environ, AGENTHOST_DATABASE_URL=DATABASE)
    result = subprocess.run([BINARY, *arguments, "--data-dir", f"{directory}/data"], input=stdin, env=environment,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"agenthost {' '.join(arguments[:2])} failed: {result.stderr[-2000:]}")
    return result


def start(directory):
    processes = []
    with open(f"{directory}/policy.yaml", "w") as file:
        file.write(POLICY)
    for port in (A, B):
        log = open(f"{directory}/server-{port}.log", "w")
        process = subprocess.Popen(
            [BINARY, "serve", "--port", str(port), "--data-dir", f"{directory}/data", "--portal", "--trusted-proxy", "127.0.0.1",
             "--policy", f"{directory}/policy.yaml", "--rate-limit", f"login-failures={FAILURES}/15m",
             # The run signs in more often than a person would: only the account's budget is under test.
             "--rate-limit", "general=1000/1m", "--rate-limit", "sensitive=1000/1m", "--rate-limit", "auth-failures=1000/1m",
             # Exactly FAILURES on the server signed in through (a shared budget is split between servers).
             "--rate-limit-per-server", "login-failures",
             # Admins sign in with a second factor.
             "--totp-required-role", "admin", "--protected-host", "127.0.0.1",
             # The signed identity the app verifies with PyJWT.
             "--identity-assertion"],
            env=dict(os.environ, AGENTHOST_DATABASE_URL=DATABASE), stdout=log, stderr=log)
        processes.append(process)
        wait_ready(f"http://127.0.0.1:{port}/health/ready", process, f"agenthost on {port}")
        if port == A:
            # The first server made the keyring; the users go into the store both servers share.
            agenthost("users", "add", "--username", "alice", "--role", "member", stdin=PASSWORD + "\n", directory=directory)
            agenthost("users", "add", "--username", "victor", "--role", "viewer", stdin=PASSWORD + "\n", directory=directory)
            agenthost("users", "add", "--username", "root", "--role", "admin", stdin=PASSWORD + "\n", directory=directory)
    with open(f"{directory}/nginx.conf", "w") as file:
        file.write(nginx_conf(directory))
    processes.append(subprocess.Popen([NGINX, "-c", f"{directory}/nginx.conf", "-p", directory],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    with open(f"{directory}/Caddyfile", "w") as file:
        file.write(CADDYFILE)
    processes.append(subprocess.Popen(["caddy", "run", "--config", f"{directory}/Caddyfile", "--adapter", "caddyfile"],
                                      env=dict(os.environ, HOME=directory, XDG_DATA_HOME=directory, XDG_CONFIG_HOME=directory),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for front in (FRONT_A, FRONT_B, FRONT_CADDY):
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", int(front.rsplit(":", 1)[1])), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
    return processes






def sign_in(driver, username="alice", password=PASSWORD):
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "username"))
    field = driver.find_element(By.ID, "username")
    field.clear()
    field.send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    # The keyboard alone: Enter in the password field submits.
    driver.find_element(By.ID, "password").send_keys("\n")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def enter_code(driver, code):
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "code"))
    field = driver.find_element(By.ID, "code")
    field.send_keys(code + "\n")
    # The page this form was on must be gone first: its own readyState is "complete" too, and
    # reading it before the answer arrived missed the answer (CI saw the refusal logged and the
    # old page read).
    WebDriverWait(driver, 10).until(EC.staleness_of(field))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")






def scenarios(driver):
    # Signed out, a protected page sends the browser to sign in, with that page as the return URL.
    driver.get(f"{FRONT_A}/members/report?week=2")
    check(path_of(driver) == "/auth/sign-in", f"a protected page while signed out lands on sign-in ({driver.current_url})")
    rd = urllib.parse.parse_qs(urllib.parse.urlsplit(driver.current_url).query).get("rd", [""])[0]
    check(rd == f"{FRONT_A}/members/report?week=2", f"the return URL is the page asked for ({rd})")
    shot(driver, "portal-sign-in.png")
    sign_in(driver)
    check(urllib.parse.urlsplit(driver.current_url).path == "/members/report", f"signed in, back on the page ({driver.current_url})")
    check(text(driver, "user") == "alice" and text(driver, "role") == "member", "the app sees X-Auth-User alice and X-Auth-Role member")
    proven = text(driver, "assertion") or ""
    check(proven.startswith("user:alice member user-session "), f"and PyJWT verifies her X-Auth-Assertion against the served keys ({proven})")
    cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
    session = cookies.get("__Host-agenthost_session")
    check(session is not None and session["httpOnly"] and session["secure"] and session.get("sameSite") == "Lax",
          "the session cookie is __Host-, HttpOnly, Secure and SameSite=Lax")
    check(driver.execute_script("return document.cookie").find("agenthost_session") == -1, "a page's script cannot read it")

    # The same browser through the other server: the session is shared, and so are the keys.
    driver.get(f"{FRONT_B}/members/report")
    check(text(driver, "user") == "alice", "a session begun on server A works through server B")
    check((text(driver, "assertion") or "").startswith("user:alice "), "server B's assertion verifies against server A's keys")

    # Cross-site forms are refused and change nothing.
    for page in ("/evil/sign-out-plain", "/evil/sign-out-form"):
        driver.get(EVIL + page)
        WebDriverWait(driver, 10).until(lambda d: d.current_url.startswith(FRONT_A))
        check("Form refused" in driver.page_source, f"a cross-site sign-out form ({page}) is refused")
    driver.get(f"{FRONT_A}/members/report")
    check(text(driver, "user") == "alice", "the session outlived the cross-site forms")

    # The sessions page, then sign out on A; B asks to sign in again.
    driver.get(f"{FRONT_A}/auth/sessions")
    check("Your sessions" in driver.page_source and "this browser" in driver.page_source, "the sessions page lists this browser")
    shot(driver, "portal-sessions.png")
    driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
    WebDriverWait(driver, 10).until(lambda d: path_of(d) == "/auth/signed-out")
    check("signed out" in driver.page_source, "signing out lands on the signed-out page")
    started = time.monotonic()
    driver.get(f"{FRONT_B}/members/report")
    check(path_of(driver) == "/auth/sign-in", f"signed out on A, B asks to sign in again ({time.monotonic() - started:.2f} s)")

    # A wrong password says so, and the account's budget runs out.
    driver.delete_all_cookies()
    driver.get(f"{FRONT_A}/auth/sign-in")
    for attempt in range(FAILURES):
        sign_in(driver, password=f"wrong password {attempt}")
        check("The user name or the password is wrong." in driver.page_source,
              f"wrong password {attempt + 1} is refused ({driver.find_element(By.TAG_NAME, 'h1').text})")
    shot(driver, "portal-sign-in-error.png")
    sign_in(driver)
    check("Too many" in driver.page_source, "past the account's budget, even the right password waits")
    check("__Host-agenthost_session" not in {c["name"] for c in driver.get_cookies()}, "and no session is set")

    # Return URLs that leave end at home; a viewer signs in and is refused the members' page.
    for target in ("https://evil.example/", "//evil.example", "https://app.example.com.evil.example/",
                   "https://user@127.0.0.1/", f"http://127.0.0.1:{NGINX_A}\\@evil.example/"):
        driver.delete_all_cookies()
        driver.get(f"{FRONT_A}/auth/sign-in?rd=" + urllib.parse.quote(target, safe=""))
        sign_in(driver, username="victor")
        check(urllib.parse.urlsplit(driver.current_url).netloc == f"127.0.0.1:{NGINX_A}" and path_of(driver) == "/auth/sessions",
              f"rd={target} ends at home ({driver.current_url})")
    driver.get(f"{FRONT_A}/members/report")
    check("403" in driver.title or "403" in driver.page_source, "a viewer is refused the members' page")
    driver.get(f"{FRONT_A}/open/page")
    check(text(driver, "role") == "viewer", "and reads the rest as a viewer")

    # A cross-site sign-in form is refused too (it cannot carry the token).
    driver.delete_all_cookies()
    driver.get(EVIL + "/evil/sign-in")
    WebDriverWait(driver, 10).until(lambda d: d.current_url.startswith(FRONT_A))
    check("__Host-agenthost_session" not in {c["name"] for c in driver.get_cookies()}, "a cross-site sign-in form signs nobody in")

    # Not a browser's page load: a 401 with AgentHost's challenge, through the same nginx setup.
    request = urllib.request.Request(f"{FRONT_A}/members/report", headers={"Accept": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
        check(False, "an API client without a credential is refused")
    except urllib.error.HTTPError as error:
        check(error.code == 401 and (error.headers.get("WWW-Authenticate") or "").startswith("Bearer"),
              f"an API client without a credential gets 401 with a Bearer challenge ({error.code})")

    # An admin must have a second factor: set it up with an authenticator (pyotp), then each code
    # works once.
    driver.delete_all_cookies()
    driver.get(f"{FRONT_A}/members/admin")
    sign_in(driver, username="root")
    check("Set up a second factor" in driver.page_source and "otpauth://totp/" in driver.page_source,
          "an admin without a second factor is asked to set one up")
    shot(driver, "portal-second-factor-setup.png")
    secret = driver.find_element(By.ID, "secret").text.replace(" ", "")
    authenticator = pyotp.TOTP(secret)
    code = authenticator.now()
    enter_code(driver, code)
    check("Save your recovery codes" in driver.page_source and len(driver.find_elements(By.CSS_SELECTOR, "#recovery-codes li")) == 10,
          "the first right code turns it on and shows ten recovery codes")
    driver.find_element(By.ID, "continue").click()
    WebDriverWait(driver, 10).until(lambda d: path_of(d) == "/members/admin")
    check(text(driver, "user") == "root" and text(driver, "role") == "admin", "then back on the page, signed in as root (admin)")
    driver.delete_all_cookies()
    driver.get(f"{FRONT_B}/members/admin")
    sign_in(driver, username="root")
    check("Second factor" in driver.page_source and "otpauth" not in driver.page_source, "signing in again asks for a code (server B)")
    shot(driver, "portal-second-factor.png")
    enter_code(driver, code)
    check("That code is not right, or it was used already." in driver.page_source, "the code used a moment ago is refused")
    enter_code(driver, authenticator.at(time.time() + 30))
    check(path_of(driver) == "/members/admin" and text(driver, "user") == "root", "the next code signs in")

    # Caddy: forward_auth passes AgentHost's 302 on.
    driver.delete_all_cookies()
    driver.get(f"{FRONT_CADDY}/open/caddy")
    check(path_of(driver) == "/auth/sign-in", f"behind Caddy, a protected page lands on sign-in ({driver.current_url})")
    # Victor: alice's failure budget on this server is spent (above).
    sign_in(driver, username="victor")
    check(path_of(driver) == "/open/caddy" and text(driver, "user") == "victor" and text(driver, "role") == "viewer",
          f"and comes back signed in, with the headers ({driver.current_url}: {text(driver, 'user')}, {text(driver, 'role')})")


def assertions_survive_a_rotation(driver, directory, servers):
    """An agent's assertion through nginx, then `agenthost keys rotate` and SIGHUP on both
    servers: new assertions name the new key and verify (PyJWT fetches the keys again), and one
    signed before the rotation still verifies against the keys served after it."""
    token = agenthost("token", "mint", "--agent", "builder-7", "--role", "member", "--ttl", "10m",
                      directory=directory).stdout.strip().splitlines()[-1]

    def as_agent(front=FRONT_A):
        # A client's own X-Auth-Assertion never reaches the app: the proxy sets the header itself.
        request = urllib.request.Request(f"{front}/open/agent",
                                         headers={"Authorization": f"Bearer {token}", "X-Auth-Assertion": "forged"})
        with urllib.request.urlopen(request, timeout=10) as response:
            page = response.read().decode()
        return html.unescape(page.split("<p id='assertion'>", 1)[1].split("</p>", 1)[0])

    before = as_agent()
    check(before.startswith("builder-7 member agent-token "), f"an agent's X-Auth-Assertion verifies with PyJWT ({before})")
    through_caddy = as_agent(FRONT_CADDY)
    check(through_caddy.startswith("builder-7 member agent-token "),
          f"and through Caddy's forward_auth (copy_headers), a forged header replaced ({through_caddy})")
    old_kid = before.rsplit(" ", 1)[-1]
    old_assertion = ASSERTIONS[-1]
    agenthost("keys", "rotate", directory=directory)
    for server in servers:
        server.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    after = before
    while time.monotonic() < deadline and (after.startswith("invalid") or after.rsplit(" ", 1)[-1] == old_kid):
        time.sleep(0.2)
        after = as_agent()
    check(after.startswith("builder-7 member agent-token ") and after.rsplit(" ", 1)[-1] != old_kid,
          f"after keys rotate and SIGHUP the assertion names the new key and verifies ({after})")
    with urllib.request.urlopen(f"http://127.0.0.1:{B}/.well-known/jwks.json", timeout=10) as response:
        served = jwt.PyJWKSet.from_json(response.read().decode())
    old_key = next((key for key in served.keys if key.key_id == old_kid), None)
    try:
        jwt.decode(old_assertion, old_key.key if old_key else "", algorithms=["EdDSA"], audience="127.0.0.1", issuer="agenthost")
        still = True
    except Exception as error:
        still = isinstance(error, jwt.ExpiredSignatureError)
    check(old_key is not None and still, "an assertion signed before the rotation verifies against the keys served after it")
    driver.get(f"{FRONT_A}/open/page")
    check((text(driver, "assertion") or "").rsplit(" ", 1)[-1] == after.rsplit(" ", 1)[-1],
          "a person's assertion is signed with the new key too")


def main():
    directory = tempfile.mkdtemp(prefix="agenthost-browser.")
    app = http.server.ThreadingHTTPServer(("127.0.0.1", APP), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    processes = []
    driver = None
    try:
        processes = start(directory)
        driver = browser()
        scenarios(driver)
        assertions_survive_a_rotation(driver, directory, processes[:2])
        if SHOTS:
            driver.quit()
            driver = browser(phone=True)
            driver.get(f"{FRONT_A}/auth/sign-in")
            check(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"),
                  "on a 320-pixel phone the sign-in page needs no sideways scrolling")
            shot(driver, "portal-sign-in-phone.png")
    except TimeoutException as error:
        failures.append(f"timed out: {error.msg}")
        print(f"FAIL timed out at {driver.current_url if driver else '-'}", flush=True)
    finally:
        if driver:
            driver.quit()
        app.shutdown()
        stop(processes)
        if failures:
            show_logs(directory)
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        print(f"browser-test: {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("browser-test: every check passed")


if __name__ == "__main__":
    main()
