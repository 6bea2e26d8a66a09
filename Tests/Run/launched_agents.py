#!/usr/bin/env python3
"""`agenthost run` as a platform uses it, with real clients inside bubblewrap (scripts/run-test).

Usage: launched_agents.py BINARY SDK_PYTHON

Starts, on 127.0.0.1 only: a fake model API (the Anthropic and OpenAI streaming endpoints, which
accept only the real key), an HTTPS git forge (Tests/Fixtures/git_https_server.py), two HTTPS
package indexes (one allowed, one not) under a test CA, and `agenthost serve` with the three as
upstreams and a CONNECT proxy. Then, each through `agenthost run`:

1. the official anthropic and openai SDKs inside the sandbox, configured only by run's variables;
2. git clone inside the sandbox through /proxy/, with the credential helper run set;
3. pip download through CONNECT from the allowed index; the other index refused and audited;
4. blocked egress and nothing secret inside (environment, readable files, data directory);
5. kill -9 of the launcher: the command dies, the lease lapses within the TTL;
6. a sub-agent wider than its parent refused; a narrower one ends with its parent;
7. figures: start to first instruction with and without the sandbox, a proxied call through the
   bridge against one from outside, a 256 MiB download through CONNECT against a direct one.

Prints each check and the figures (JSON, last line); exits non-zero when a check fails. Every
process it starts is stopped at the end; every wait is bounded.
"""

import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

BINARY, SDK_PYTHON = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
# The SDKs' virtual environment and the Python it was made from may lie under /tmp (a fresh clone's
# .build) or the home (pyenv), which the sandbox replaces: they are passed in read-only.
READ_ONLY = sorted({os.path.dirname(os.path.dirname(SDK_PYTHON)), subprocess.run(
    [SDK_PYTHON, "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True, check=True).stdout.strip()})
HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "sk-launched-7d1c2b9a8e6f5d4c3b2a1f0e"  # the provider key: only the fake API accepts it
PAT = "glpat-launched-0a1b2c3d4e5f6a7b8c9d"  # the forge's token
WORDS = ["Hello", " from", " upstream"]
BULK = 256 << 20

failures = []
figures = {}
processes = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message, flush=True)
    if not condition:
        failures.append(message)


def run(command, timeout=120, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def start(command, **kwargs):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    processes.append(process)
    return process


def serve_in_thread(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


# MARK: The servers on 127.0.0.1


class ModelAPI(http.server.BaseHTTPRequestHandler):
    """The two SDKs' streaming endpoints, for the real key only; /v1/ping for the bridge figure."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def stream(self, events):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in events:
            self.wfile.write(event.encode())
            self.wfile.flush()
        self.close_connection = True

    def refuse(self):
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if self.path == "/v1/ping" and self.headers.get("x-api-key") == KEY:
            # One write: a head and a body written apart meet the peer's delayed ACK (40 ms).
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        else:
            self.refuse()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0") or "0"))
        if self.path == "/v1/messages" and KEY in (self.headers.get("x-api-key"), (self.headers.get("Authorization") or "")[7:]):
            events = [
                ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                                       "model": "fake", "content": [], "stop_reason": None,
                                                                       "stop_sequence": None,
                                                                       "usage": {"input_tokens": 1, "output_tokens": 0}}}),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ] + [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}})
                 for word in WORDS] + [
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                   "usage": {"output_tokens": 3}}),
                ("message_stop", {"type": "message_stop"}),
            ]
            self.stream([f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events])
        elif self.path == "/v1/chat/completions" and self.headers.get("Authorization") == "Bearer " + KEY:
            chunks = [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
                       "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]} for word in WORDS]
            self.stream([f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"])
        else:
            self.refuse()


def make_wheel(path):
    """A wheel of one module, agenthost_probe 1.0: what pip downloads from the index."""
    info = "agenthost_probe-1.0.dist-info/"
    files = {
        "agenthost_probe.py": b"VALUE = 42\n",
        info + "METADATA": b"Metadata-Version: 2.1\nName: agenthost-probe\nVersion: 1.0\n",
        info + "WHEEL": b"Wheel-Version: 1.0\nGenerator: launched_agents.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={digest},{len(data)}\n"
    record += info + "RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(info + "RECORD", record)


def index_handler(wheel):
    data = open(wheel, "rb").read()
    name = os.path.basename(wheel)

    class Index(http.server.BaseHTTPRequestHandler):
        """A PEP 503 simple index of one package, and /bulk: 256 MiB for the CONNECT figure."""

        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, payload, kind):
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path.rstrip("/") == "/simple/agenthost-probe":
                digest = hashlib.sha256(data).hexdigest()
                self.answer(f'<a href="/files/{name}#sha256={digest}">{name}</a>\n'.encode(), "text/html")
            elif self.path == "/files/" + name:
                self.answer(data, "application/octet-stream")
            elif self.path == "/bulk":
                self.send_response(200)
                self.send_header("Content-Length", str(BULK))
                self.end_headers()
                piece = b"\0" * (1 << 20)
                for _ in range(BULK >> 20):
                    self.wfile.write(piece)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Index


def https_server(handler, certs):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def make_certificates(directory):
    with open(os.path.join(directory, "leaf.ext"), "w") as handle:
        handle.write("subjectAltName = IP:127.0.0.1\nbasicConstraints = critical, CA:FALSE\nextendedKeyUsage = serverAuth\n")
    for step in [
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "2", "-subj", "/CN=AgentHost test CA"],
        ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days",
         "2", "-extfile", "leaf.ext"],
    ]:
        result = run(["openssl"] + step, cwd=directory)
        if result.returncode != 0:
            raise SystemExit("openssl failed: " + result.stderr)


def make_forge(root):
    """A bare repository with one commit, at ROOT/group/repo.git."""
    git = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": root, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "PATH": os.environ["PATH"]}
    work = os.path.join(root, "work")
    os.makedirs(work)
    for command in [["git", "init", "-q", "-b", "main", work], ["git", "-C", work, "commit", "-q", "--allow-empty", "-m", "first"]]:
        run(command, env=git)
    with open(os.path.join(work, "README"), "w") as handle:
        handle.write("cloned through the proxy\n")
    run(["git", "-C", work, "add", "README"], env=git)
    run(["git", "-C", work, "commit", "-q", "-m", "readme"], env=git)
    os.makedirs(os.path.join(root, "forge", "group"))
    run(["git", "clone", "-q", "--bare", work, os.path.join(root, "forge", "group", "repo.git")], env=git)


# MARK: AgentHost


class AgentHost:
    def __init__(self, root, config):
        self.data = os.path.join(root, "data")
        self.process = start([BINARY, "serve", "--config", config, "--data-dir", self.data], env=self.environment())
        self.port = self.connect_port = None
        deadline = time.time() + 60
        lines = []
        while time.time() < deadline and (self.port is None or self.connect_port is None):
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "CONNECT proxy" in line and "address=127.0.0.1:" in line:
                self.connect_port = int(line.split("address=127.0.0.1:")[1].split()[0])
            if "url=http://127.0.0.1:" in line:
                self.port = int(line.split("url=http://127.0.0.1:")[1].split()[0])
        if self.port is None:
            raise SystemExit("agenthost serve did not start:\n" + "".join(lines))
        threading.Thread(target=lambda: self.process.stdout.read(), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = self.mint("ops", "admin")

    @staticmethod
    def environment(extra=None):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENTHOST_")}
        environment.update(extra or {})
        return environment

    def mint(self, agent, role):
        result = run([BINARY, "token", "mint", "--agent", agent, "--role", role, "--data-dir", self.data])
        return result.stdout.strip().splitlines()[-1]

    def call(self, method, path, body=None, token=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": "Bearer " + (token or self.admin)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, (json.loads(data) if data else {})

    def launch(self, arguments, command, workdir, extra_environment=None, timeout=180):
        exposed = [argument for path in READ_ONLY for argument in ("--read-only", path)]
        return run([BINARY, "run", "--server", self.url, "--data-dir", self.data, "--agent", "builder-7", "--workdir", workdir]
                   + exposed + arguments + ["--"] + command, env=self.environment(extra_environment), timeout=timeout)


def main():
    root = tempfile.mkdtemp(prefix="agenthost-launched-")
    try:
        body(root)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures, sort_keys=True))
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


def body(root):
    make_certificates(root)
    make_forge(root)
    wheel = os.path.join(root, "agenthost_probe-1.0-py3-none-any.whl")
    make_wheel(wheel)
    model_port = serve_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", 0), ModelAPI))
    index_port = serve_in_thread(https_server(index_handler(wheel), root))
    other_index_port = serve_in_thread(https_server(index_handler(wheel), root))
    port_file = os.path.join(root, "forge.port")
    start([sys.executable, os.path.join(HERE, "..", "Fixtures", "git_https_server.py"), port_file, os.path.join(root, "server.pem"),
           os.path.join(root, "server.key"), os.path.join(root, "forge"), PAT])
    deadline = time.time() + 30
    while not os.path.exists(port_file) and time.time() < deadline:
        time.sleep(0.05)
    forge_port = int(open(port_file).read())

    config = os.path.join(root, "agenthost.yaml")
    with open(config, "w") as handle:
        handle.write(f"""port: 0
connect_port: 0
lease_ttl: 6s
rate_limit: [general=100000/1m, sensitive=1000/1m]
upstreams:
  anthropic:
    url: http://127.0.0.1:{model_port}
    grant: ANTHROPIC_API_KEY
    inject: "x-api-key: {{secret}}"
    methods: [GET, POST]
    paths: ["/v1/**"]
    rate_limit: 100000/1m
  openai:
    url: http://127.0.0.1:{model_port}
    grant: OPENAI_API_KEY
    inject: "Authorization: Bearer {{secret}}"
    methods: [POST]
    paths: ["/v1/**"]
  forge:
    url: https://127.0.0.1:{forge_port}
    grant: GIT_TOKEN
    inject: "basic: x-access-token"
    methods: [GET, POST]
    paths: ["/{{group}}/{{repo}}/info/refs", "/{{group}}/{{repo}}/git-upload-pack"]
    ca_file: {root}/ca.pem
""")
    os.chmod(config, 0o600)
    host = AgentHost(root, config)
    for path, secret in [("/api/users/ops/keys/llm", {"key": KEY}), ("/api/projects/p1/git-token", {"token": PAT})]:
        status, _ = host.call("PUT", path, secret)
        check(status == 204, f"PUT {path}: {status}")
    for secret, env in [("users/ops/keys/llm", "ANTHROPIC_API_KEY"), ("users/ops/keys/llm", "OPENAI_API_KEY"),
                        ("projects/p1/git-token", "GIT_TOKEN")]:
        status, _ = host.call("POST", "/api/agents/builder-7/grants", {"secret": secret, "env": env, "proxy_only": True})
        check(status == 201, f"grant {env}: {status}")

    work = os.path.join(root, "agent")
    os.makedirs(work)
    shutil.copy(os.path.join(root, "ca.pem"), os.path.join(work, "ca.pem"))
    sdk = os.path.join(work, "sdks.py")
    with open(sdk, "w") as handle:
        handle.write("""import anthropic, openai
text = ""
with anthropic.Anthropic(max_retries=0).messages.stream(model="fake", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as s:
    text += "".join(s.text_stream)
text += "|"
for chunk in openai.OpenAI(max_retries=0).chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
print(text)
""")

    # 1. The SDKs, configured by nothing but run's variables.
    result = host.launch(["--upstream", "anthropic", "--upstream", "openai"], [SDK_PYTHON, sdk], work)
    expected = "".join(WORDS)
    check(result.returncode == 0 and result.stdout.strip() == expected + "|" + expected,
          f"the anthropic and openai SDKs stream through the proxy from inside the sandbox ({result.stdout.strip()!r} {result.stderr[-300:]!r})")

    # 2. git clone through /proxy/, with the helper run set.
    result = host.launch(["--upstream", "forge"], ["sh", "-c", 'git clone -q "$AGENTHOST_URL/proxy/forge/group/repo.git" clone'], work,
                         {"GIT_CONFIG_NOSYSTEM": "1"})
    check(result.returncode == 0 and os.path.exists(os.path.join(work, "clone", "README")),
          f"git clone through /proxy/ inside the sandbox ({result.stderr[-300:]!r})")

    # 3. pip through CONNECT: the allowed index works, the other is refused and audited.
    pip = [SDK_PYTHON, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--cert", "ca.pem",
           "--dest", "wheels", "agenthost-probe==1.0", "--retries", "0", "--timeout", "10"]
    result = host.launch(["--allow-host", f"127.0.0.1:{index_port}"], pip + ["--index-url", f"https://127.0.0.1:{index_port}/simple/"],
                         work)
    check(result.returncode == 0 and os.path.exists(os.path.join(work, "wheels", os.path.basename(wheel))),
          f"pip download through CONNECT from an allowed index ({result.stdout[-200:]!r} {result.stderr[-300:]!r})")
    result = host.launch(["--allow-host", f"127.0.0.1:{index_port}"],
                         pip + ["--index-url", f"https://127.0.0.1:{other_index_port}/simple/", "--dest", "other"], work)
    check(result.returncode != 0 and not os.path.exists(os.path.join(work, "other", os.path.basename(wheel))),
          "pip from an index not allowed fails")
    status, audit = host.call("GET", "/api/audit?action=connect.refused&limit=50")
    check(status == 200 and any(record.get("details", {}).get("code") == "not_allowed" for record in audit.get("records", [])),
          "the refused tunnel is audited")
    status, audit = host.call("GET", "/api/audit?action=connect.tunnel&limit=50")
    check(any(record.get("target") == f"127.0.0.1:{index_port}" for record in audit.get("records", [])), "the tunnel is audited")

    # 4. Nothing reachable but AgentHost, nothing secret inside.
    probe = os.path.join(work, "probe.py")
    with open(probe, "w") as handle:
        handle.write(f"""import os, socket, sys
found = []
for host in ["127.0.0.1", "127.0.0.2"]:
    try:
        socket.create_connection((host, {model_port}), timeout=3).close()
        found.append("reached " + host)
    except OSError:
        pass
secret = {KEY[::-1]!r}[::-1].encode()  # written reversed, so this file does not hold it
if secret in open("/proc/self/environ", "rb").read():
    found.append("secret in environ")
for top in [os.getcwd(), "/tmp", "/run", "/etc", {host.data!r}]:
    for folder, _, names in os.walk(top):
        for name in names:
            try:
                with open(os.path.join(folder, name), "rb") as handle:
                    if secret in handle.read(4 << 20):
                        found.append("secret in " + os.path.join(folder, name))
            except OSError:
                pass
if os.listdir({host.data!r}):
    found.append("the data directory is visible")
if "SECRET_IN_PARENT" in os.environ:
    found.append("the caller's environment leaked")
print("; ".join(found) or "clean")
""")
    result = host.launch([], [SDK_PYTHON, probe], work, {"SECRET_IN_PARENT": "parent-value"})
    check(result.stdout.strip() == "clean", f"no other service, no secret, no data directory inside ({result.stdout.strip()[:300]!r})")

    # 5. kill -9 of the launcher.
    bridges_before = set(_bridge_directories())
    child_file = os.path.join(work, "child")
    launcher = start([BINARY, "run", "--server", host.url, "--data-dir", host.data, "--agent", "builder-7", "--workdir", work, "--",
                      "sh", "-c", 'echo "$AGENTHOST_TOKEN" > child; exec sleep 300'], env=host.environment())
    deadline = time.time() + 30
    while not (os.path.exists(child_file) and open(child_file).read().strip()) and time.time() < deadline:
        time.sleep(0.05)
    lease = open(child_file).read().strip()
    sleeping = [pid for pid in os.listdir("/proc") if pid.isdigit() and "sleep300" in _cmdline(pid)]
    check(host.call("GET", "/api/whoami", token=lease)[0] == 200, "the lease works while its launcher runs")
    os.kill(launcher.pid, signal.SIGKILL)
    killed = time.time()
    launcher.wait(timeout=10)
    deadline = killed + 15
    while any(_alive(pid) for pid in sleeping) and time.time() < deadline:
        time.sleep(0.05)
    check(sleeping and not any(_alive(pid) for pid in sleeping), "the command dies with its launcher")
    while host.call("GET", "/api/whoami", token=lease)[0] != 401 and time.time() < killed + 30:
        time.sleep(0.1)
    lapsed = time.time() - killed
    figures["lease_lapse_after_kill_s"] = round(lapsed, 1)
    # A launcher killed with SIGKILL cannot remove its bridge's directory (Docs/RUN.md).
    for directory in set(_bridge_directories()) - bridges_before:
        shutil.rmtree(directory, ignore_errors=True)
    # The 0.5 s: the poll's own pace and the request's time.
    check(lapsed <= 6 + 0.5, f"the lease lapsed {lapsed:.1f} s after the launcher was killed (TTL 6 s)")

    # 6. A sub-agent: wider refused, narrower ends with its parent.
    with open(os.path.join(work, "child.py"), "w") as handle:
        handle.write("""import http.client, json, os, sys
def call(method, path, body, token):
    c = http.client.HTTPConnection(os.environ["AGENTHOST_URL"][7:], timeout=10)
    c.request(method, path, json.dumps(body), {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")
lease, run = os.environ["AGENTHOST_TOKEN"], os.environ["AGENTHOST_RUN_ID"]
wider = call("POST", f"/api/runs/{run}/children", {"name": "tests-1", "role": "owner"}, lease)
child = call("POST", f"/api/runs/{run}/children", {"name": "tests-1", "role": "viewer"}, lease)
open("sub.json", "w").write(json.dumps({"wider": wider[0], "exceeded": sorted(wider[1].get("exceeded", {})), "child": child[0],
                                        "lease": child[1].get("lease", "")}))
""")
    result = host.launch(["--role", "developer"], [SDK_PYTHON, "child.py"], work)
    sub = json.load(open(os.path.join(work, "sub.json")))
    check(sub["wider"] == 403 and sub["exceeded"] == ["role"], f"a sub-agent wider than its parent is refused ({sub['wider']})")
    check(sub["child"] == 201 and host.call("GET", "/api/whoami", token=sub["lease"])[0] == 401,
          "a sub-agent's lease stops when its parent's run ends")

    measure(host, work, index_port)


def _bridge_directories():
    base = tempfile.gettempdir()
    return [os.path.join(base, name) for name in os.listdir(base) if name.startswith("agenthost-run-")]


def _cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b"").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        return stat[stat.rindex(")") + 2] != "Z"
    except OSError:
        return False


def measure(host, work, index_port):
    # Start to first instruction.
    for sandbox in ["none", "bwrap"]:
        times = []
        for _ in range(5):
            started = time.time()
            result = host.launch(["--sandbox", sandbox], ["sh", "-c", "date +%s.%N"], work)
            times.append((float(result.stdout.strip()) - started) * 1000)
        figures[f"start_to_first_instruction_ms_{sandbox}"] = round(statistics.median(times), 1)

    # A proxied call from inside and from outside the sandbox: 1,000 in a row on one connection.
    loop = os.path.join(work, "loop.py")
    with open(loop, "w") as handle:
        handle.write("""import http.client, os, time, json
host, port = os.environ["AGENTHOST_URL"][7:].split(":")
c = http.client.HTTPConnection(host, int(port), timeout=10)
headers = {"x-api-key": os.environ["AGENTHOST_TOKEN"]}
times = []
for _ in range(1000):
    started = time.perf_counter()
    c.request("GET", "/proxy/anthropic/v1/ping", headers=headers)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    times.append(time.perf_counter() - started)
times.sort()
print(json.dumps({"p50_ms": times[len(times) // 2] * 1000, "rps": len(times) / sum(times)}))
""")
    for sandbox in ["none", "bwrap", "none", "bwrap"]:
        result = host.launch(["--sandbox", sandbox, "--upstream", "anthropic"], [SDK_PYTHON, loop], work)
        try:
            figure = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            check(False, f"the proxied-call loop ran ({sandbox}): {result.stderr[-300:]!r}")
            continue
        name = "outside" if sandbox == "none" else "through_bridge"
        figures.setdefault(f"proxied_call_p50_ms_{name}", []).append(round(figure["p50_ms"], 3))
        figures.setdefault(f"proxied_call_rps_{name}", []).append(round(figure["rps"]))

    # 256 MiB over HTTPS: direct, and through CONNECT from inside the sandbox.
    curl = ["curl", "-sS", "--cacert", "ca.pem", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]
    for label in ["direct", "connect", "direct", "connect"]:
        if label == "direct":
            result = run(curl + [f"https://127.0.0.1:{index_port}/bulk"], cwd=work)
        else:
            result = host.launch(["--allow-host", f"127.0.0.1:{index_port}"], curl + [f"https://127.0.0.1:{index_port}/bulk"], work)
        try:
            size, seconds = result.stdout.split()
            check(int(size) == BULK, f"256 MiB {label}")
            figures.setdefault(f"download_256mib_mb_per_s_{label}", []).append(round(int(size) / float(seconds) / 1e6))
        except ValueError:
            check(False, f"the 256 MiB download ran ({label}): {result.stderr[-300:]!r}")


if __name__ == "__main__":
    main()
