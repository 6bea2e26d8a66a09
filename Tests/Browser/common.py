"""What the browser tests share (portal.py, sso.py): the checks' record, free loopback ports, a
headless Chromium, and reading the page."""

import html
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

SHOTS = os.environ.get("AGENTHOST_BROWSER_SCREENSHOTS") or ""

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def browser(phone=False):
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                     "--no-first-run", "--disable-extensions", "--password-store=basic",
                     # Nothing but loopback: a page that loads from the internet (oidc-provider-mock's
                     # stylesheet from a CDN) fails at once instead of waiting on a resolver that
                     # may never answer, which stalled each of its pages by 5 s on a machine
                     # without DNS.
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    if phone:
        # A 320-pixel-wide phone: the narrowest the pages are meant for.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 320, "height": 640, "pixelRatio": 2}})
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    return driver


def text(driver, element_id):
    try:
        return driver.find_element(By.ID, element_id).text
    except Exception:
        return None


def path_of(driver):
    return urllib.parse.urlsplit(driver.current_url).path


def shot(driver, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, name))


def stop(processes):
    """SIGTERM to each process, then waits for each; one that does not stop within 15 s is killed
    and counts as a failure."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            failures.append(f"{process.args[0]} did not stop within 15 s")


def show_logs(directory, skip=()):
    """The end of every log in `directory`, to standard error: after a failure."""
    for name in os.listdir(directory):
        if name.endswith(".log") and name not in skip:
            print(f"--- {name}", file=sys.stderr)
            with open(os.path.join(directory, name)) as file:
                print(file.read()[-3000:], file=sys.stderr)


class App(http.server.BaseHTTPRequestHandler):
    """The protected platform: shows who AgentHost says the visitor is."""

    def do_GET(self):
        user = html.escape(self.headers.get("X-Auth-User", "-"))
        role = html.escape(self.headers.get("X-Auth-Role", "-"))
        data = (f"<!doctype html><title>App</title><h1 id='page'>{html.escape(self.path)}</h1>"
                f"<p id='user'>{user}</p><p id='role'>{role}</p>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Docs/examples/nginx-portal.conf")


def nginx_conf(directory, front_port, server_port, app_port):
    """Docs/examples/nginx-portal.conf on 127.0.0.1:front_port, in front of AgentHost on server_port
    and the protected app on app_port, with its files in `directory`."""
    with open(EXAMPLE) as file:
        block = file.read()
    block = block.replace("listen 443 ssl;", f"listen 127.0.0.1:{front_port};")
    block = "\n".join(line for line in block.split("\n") if "ssl_certificate" not in line and "server_name" not in line)
    block = block.replace("127.0.0.1:8080", f"127.0.0.1:{server_port}").replace("127.0.0.1:3000", f"127.0.0.1:{app_port}")
    return f"""daemon off;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
  log_format uri "$request_uri";
  access_log {directory}/access.log uri;
  client_body_temp_path {directory}/body;
  proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi;
  uwsgi_temp_path {directory}/uwsgi;
  scgi_temp_path {directory}/scgi;
{block}
}}
"""


def wait_port(port, process, name):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                break
            time.sleep(0.1)
    raise SystemExit(f"{name} did not start")


def agenthost(binary, *arguments, stdin=None, directory):
    """Runs `binary` with `arguments` on the data directory in `directory`; stops the test if it fails."""
    result = subprocess.run([binary, *arguments, "--data-dir", f"{directory}/data"], input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"agenthost {' '.join(arguments[:2])} failed: {result.stderr[-2000:]}")
    return result


def loaded(driver):
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def leave_by(driver, element):
    """Clicks `element` and waits until its page has been replaced and the next one has loaded:
    the old page's readyState is "complete" too, so waiting on that alone reads the old page."""
    element.click()
    WebDriverWait(driver, 10).until(staleness_of(element))
    loaded(driver)


def wind_down(driver, servers, processes, directory):
    """Quits the browser, shuts the test's own HTTP servers, stops the processes, shows their logs
    after a failure, and removes `directory`."""
    if driver:
        driver.quit()
    for server in servers:
        server.shutdown()
    stop(processes)
    if failures:
        show_logs(directory, skip=("access.log",))
    shutil.rmtree(directory, ignore_errors=True)


def finish(name, timings=(), what=""):
    """Prints the median of `timings` (seconds) for `what`, says how the checks of `name` went, and
    exits 1 if any failed."""
    if timings:
        ordered = sorted(timings)
        print(f"{name}: {what}: median {ordered[len(ordered) // 2] * 1000:.0f} ms, "
              f"{ordered[0] * 1000:.0f}-{ordered[-1] * 1000:.0f} ms over {len(ordered)}")
    if failures:
        print(f"browser-test ({name}): {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"browser-test ({name}): every check passed")


def serve_behind_nginx(binary, nginx, directory, config, ports, prepare=None):
    """AgentHost (`binary`) with the configuration `config` on ports["server"], logging to
    server.log; then `prepare(directory)` (users, secrets) while it runs; then nginx (`nginx`) on
    ports["front"] in front of it and of the app on ports["app"]. The two processes."""
    with open(f"{directory}/agenthost.yaml", "w") as file:
        file.write(config)
    log = open(f"{directory}/server.log", "w")
    server = subprocess.Popen(
        [binary, "serve", "--config", f"{directory}/agenthost.yaml", "--port", str(ports["server"]), "--data-dir", f"{directory}/data"],
        stdout=log, stderr=log)
    wait_port(ports["server"], server, "agenthost")
    if prepare:
        prepare(directory)
    with open(f"{directory}/nginx.conf", "w") as file:
        file.write(nginx_conf(directory, ports["front"], ports["server"], ports["app"]))
    front = subprocess.Popen([nginx, "-c", f"{directory}/nginx.conf", "-p", directory],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(ports["front"], front, "nginx")
    return [server, front]
