#!/usr/bin/env python3
"""The scale-out checks, against a cluster that scripts/cluster started:

    AGENTHOST_GITHUB_WEBHOOK_SECRET=... scripts/cluster 3 --run python3 Tests/Cluster/scale_out.py \
        -- --rate-limit general=100/10s --portal

1. accuracy: a client spread round-robin (nginx) at 3x the limit for two whole periods;
2. a burst of 3x the bucket within one reconciliation interval, and the authentication-failure
   budget spent once across the servers;
3. a revocation through one server, refused by every other (delay); a browser session signed in
   and out through one server, refused by every other (delay); the lease of an `agenthost run`
   whose command exited, refused by every server (delay);
4. the audit chain under concurrent writers on every server, then `agenthost audit verify`;
5. the same webhook delivery to two servers at once, accepted once;
6. a token key rotated, then retired, and every server reloaded (SIGHUP): the new key's tokens
   work on every server, then the old key's are refused on every one;
7. the database stopped and started in the middle of load: no 5xx, readiness 503 meanwhile, and
   the limits shared again after.

Prints each figure and exits non-zero when one is out of bounds. Only 127.0.0.1 is contacted; every
loop is bounded in count and time. Standard library only.
"""

import hashlib
import html
import hmac
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

URL = os.environ["AGENTHOST_CLUSTER_URL"]
SERVERS = os.environ["AGENTHOST_CLUSTER_SERVERS"].split()
PIDS = [int(pid) for pid in os.environ["AGENTHOST_CLUSTER_PIDS"].split()]
DATA_DIR = os.environ["AGENTHOST_CLUSTER_DATA_DIR"]
BINARY = os.environ["AGENTHOST_CLUSTER_BINARY"]
DATABASE = os.environ["AGENTHOST_TEST_POSTGRES_URL"]
PG_CTL = os.environ["AGENTHOST_TEST_POSTGRES_CTL"]
WEBHOOK_SECRET = os.environ.get("AGENTHOST_GITHUB_WEBHOOK_SECRET")
# The limit the cluster was started with (scripts/cluster ... -- --rate-limit general=100/10s).
LIMIT, PERIOD = 100, 10.0

failures = []
figures = {}


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message, flush=True)
    if not condition:
        failures.append(message)


def fresh_ip():
    return "10.%d.%d.%d" % (random.randint(0, 255), random.randint(0, 255), random.randint(1, 254))


class Client:
    """One keep-alive connection to one base URL."""

    def __init__(self, base):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.connection = None

    def request(self, method, path, headers=None, body=None):
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                data = response.read()
                return response.status, data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 1:
                    return 0, b""
        return 0, b""


def mint(agent, role):
    output = subprocess.run(
        [BINARY, "token", "mint", "--agent", agent, "--role", role, "--ttl", "1h", "--data-dir", DATA_DIR],
        check=True, capture_output=True, text=True)
    return output.stdout.strip().splitlines()[-1]


def bearer(token, ip=None):
    headers = {"Authorization": "Bearer " + token}
    if ip:
        headers["X-Forwarded-For"] = ip
    return headers


def accuracy(token):
    """3x the limit for two whole periods, spread round-robin by nginx over the servers."""
    client, ip = Client(URL), fresh_ip()
    rate = 3 * LIMIT / PERIOD
    duration = 2 * PERIOD
    statuses = {}
    start = time.monotonic()
    sent = 0
    while sent < rate * duration:
        target = start + sent / rate
        pause = target - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        status, _ = client.request("GET", "/api/whoami", bearer(token, ip))
        statuses[status] = statuses.get(status, 0) + 1
        sent += 1
    elapsed = time.monotonic() - start
    admitted = statuses.get(200, 0)
    # One server alone: a full bucket at once, then one request per interval.
    expected = LIMIT + int(elapsed * LIMIT / PERIOD)
    error = 100.0 * (admitted - expected) / expected
    figures["accuracy"] = {"sent": sent, "admitted": admitted, "expected": expected, "error_percent": round(error, 2),
                           "statuses": statuses, "seconds": round(elapsed, 1)}
    check(abs(error) <= 5 and set(statuses) <= {200, 429},
          "accuracy: %d sent over %.1f s, %d admitted, one server alone %d (%+.1f %%); statuses %s"
          % (sent, elapsed, admitted, expected, error, statuses))


def pipelined(base, requests):
    """Sends `requests` (raw HTTP/1.1 requests) at once on one connection and returns the
    statuses of the answers, in order: a burst that leaves the client in one write."""
    parsed = urllib.parse.urlsplit(base)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as connection:
        connection.sendall(b"".join(requests))
        reader = connection.makefile("rb")
        statuses = []
        for _ in requests:
            status = int(reader.readline().split()[1])
            length, chunked = 0, False
            while True:
                line = reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int(reader.readline().split(b";")[0], 16)
                    reader.read(size + 2)
                    if size == 0:
                        break
            else:
                reader.read(length)
            statuses.append(status)
        return statuses


def burst(token, label):
    """3x the bucket, from 30 connections at once, each sending its requests in one write."""
    ip = fresh_ip()
    per_connection = 3 * LIMIT // 30
    request = ("GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\n\r\n"
               % (token, ip)).encode()
    barrier = threading.Barrier(30)
    results = []
    lock = threading.Lock()

    def worker():
        barrier.wait()
        try:
            mine = pipelined(URL, [request] * per_connection)
        except (OSError, ValueError, IndexError):
            mine = [0] * per_connection
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(30)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - start
    admitted = results.count(200)
    # What refilled while the burst was arriving counts too.
    expected = LIMIT + int(elapsed * LIMIT / PERIOD)
    error = 100.0 * (admitted - expected) / expected
    figures[label] = {"sent": len(results), "admitted": admitted, "expected": expected, "error_percent": round(error, 2),
                      "milliseconds": round(elapsed * 1000)}
    check(abs(error) <= 10 and set(results) <= {200, 429},
          "%s: %d requests in %.0f ms, %d admitted, one server alone %d (%+.1f %%)"
          % (label, len(results), elapsed * 1000, admitted, expected, error))


def failure_budget():
    """Bad tokens from one address, round-robin over the servers: the `auth-failures` budget (10
    per minute) is spent once across them, not once per server."""
    client, ip = Client(URL), fresh_ip()
    statuses = [client.request("GET", "/api/whoami", bearer("ah1.forged", ip))[0] for _ in range(30)]
    refused = statuses.count(401)
    figures["auth_failures"] = {"401": refused, "429": statuses.count(429)}
    check(9 <= refused <= 11 and refused + statuses.count(429) == 30,
          "auth-failures: 30 bad tokens from one address over %d servers: %d answered 401, %d 429 (budget 10)"
          % (len(SERVERS), refused, statuses.count(429)))


def revocation(admin):
    token = mint("revoked-agent", "developer")
    clients = [Client(server) for server in SERVERS]
    status, body = clients[0].request("GET", "/api/whoami", bearer(token, fresh_ip()))
    check(status == 200, "revocation: the token works before (%d)" % status)
    token_id = json.loads(body)["token_id"]
    for client in clients[1:]:
        client.request("GET", "/api/whoami", bearer(token, fresh_ip()))
    start = time.monotonic()
    status, _ = clients[0].request(
        "POST", "/api/tokens/revoke", dict(bearer(admin, fresh_ip()), **{"Content-Type": "application/json"}),
        json.dumps({"token_id": token_id}))
    check(status == 204, "revocation: revoked through server 1 (%d)" % status)
    delays = []
    for client in clients[1:]:
        while time.monotonic() - start < 5:
            status, _ = client.request("GET", "/api/whoami", bearer(token, fresh_ip()))
            if status == 401:
                break
            time.sleep(0.002)
        delays.append(time.monotonic() - start)
    worst = max(delays) if delays else 0
    figures["revocation_ms"] = [round(delay * 1000, 1) for delay in delays]
    check(worst < 1, "revocation: refused by every other server after %s ms (limit 1000)"
          % ", ".join("%.1f" % (delay * 1000) for delay in delays))


def launched_lease():
    """`agenthost run` against server 1: once its command has exited, the lease is refused by
    every server; how long after the launcher returned."""
    lease_file = os.path.join(DATA_DIR, "..", "launched-lease-%s" % uuid.uuid4().hex)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENTHOST_")}
    # The command uses its lease on every server before it exits, so each has seen it work.
    script = ('for url in %s; do curl -s -o /dev/null -w "%%{http_code} " -H "Authorization: Bearer $AGENTHOST_TOKEN" '
              '"$url/api/whoami"; done; echo "$AGENTHOST_TOKEN" > "$0"') % " ".join(SERVERS)
    result = subprocess.run(
        [BINARY, "run", "--sandbox", "none", "--server", SERVERS[0], "--data-dir", DATA_DIR, "--agent", "launched-agent", "--",
         "sh", "-c", script, lease_file], capture_output=True, text=True, timeout=60, env=environment)
    ended = time.monotonic()
    check(result.returncode == 0 and result.stdout.split() == ["200"] * len(SERVERS),
          "launched: the lease works on every server while the command runs (%s %s)" % (result.stdout.strip(), result.stderr[-200:]))
    try:
        lease = open(lease_file).read().strip()
    except OSError:
        check(False, "launched: the command wrote its lease")
        return
    finally:
        if os.path.exists(lease_file):
            os.remove(lease_file)
    delays = []
    for server in SERVERS:
        client = Client(server)
        while time.monotonic() - ended < 5:
            status, _ = client.request("GET", "/api/whoami", bearer(lease, fresh_ip()))
            if status == 401:
                break
            time.sleep(0.002)
        delays.append(time.monotonic() - ended)
    figures["launched_lease_refused_ms"] = [round(delay * 1000, 1) for delay in delays]
    check(max(delays) < 1, "launched: the lease is refused by every server %s ms after the run ended (limit 1000)"
          % ", ".join("%.1f" % (delay * 1000) for delay in delays))


def browser_request(base, method, path, headers=None, body=None):
    """One request on a connection of its own: status, headers (lower-case names, lists) and body."""
    parsed = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        fields = {}
        for name, value in response.getheaders():
            fields.setdefault(name.lower(), []).append(value)
        return response.status, fields, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def hidden(name, page):
    match = re.search('name="%s" value="([^"]*)"' % name, page)
    return html.unescape(match.group(1)) if match else ""


def browser_sign_out():
    """A browser session begun on server 1 works on every server; signed out on server 1, how long
    until the others refuse it (the revocation path: LISTEN/NOTIFY)."""
    subprocess.run([BINARY, "users", "add", "--username", "walker", "--role", "member", "--data-dir", DATA_DIR],
                   input="cluster walker password\n", env=dict(os.environ, AGENTHOST_DATABASE_URL=DATABASE),
                   check=True, capture_output=True, text=True)
    first = SERVERS[0]
    origin = {"Origin": first, "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": fresh_ip()}
    status, fields, page = browser_request(first, "GET", "/auth/sign-in")
    binding = next((c.split(";")[0].split("=", 1)[1] for c in fields.get("set-cookie", []) if c.startswith("__Host-agenthost_signin=")), "")
    form = urllib.parse.urlencode({"csrf": hidden("csrf", page), "seal": hidden("seal", page), "rd": hidden("rd", page),
                                   "username": "walker", "password": "cluster walker password"})
    status, fields, _ = browser_request(first, "POST", "/auth/sign-in", dict(origin, Cookie="__Host-agenthost_signin=" + binding), form)
    session = next((c.split(";")[0] for c in fields.get("set-cookie", []) if c.startswith("__Host-agenthost_session=")), None)
    check(status == 303 and session is not None, "browser: signed in on server 1 (%d)" % status)
    if session is None:
        return

    def verify(server):
        headers = {"Cookie": session, "X-Original-URI": "/dashboard", "X-Original-Method": "GET", "X-Forwarded-For": fresh_ip()}
        return browser_request(server, "GET", "/auth/verify", headers)[0]

    # The user was created a moment ago: every server hears of it (LISTEN/NOTIFY) within a second.
    deadline = time.monotonic() + 2
    while True:
        before = [verify(server) for server in SERVERS]
        if before == [200] * len(SERVERS) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    check(before == [200] * len(SERVERS), "browser: the session works on every server %s" % before)
    _, _, sessions_page = browser_request(first, "GET", "/auth/sessions", {"Cookie": session})
    start = time.monotonic()
    status, _, _ = browser_request(first, "POST", "/auth/sign-out", dict(origin, Cookie=session),
                                   urllib.parse.urlencode({"csrf": hidden("csrf", sessions_page)}))
    check(status == 303, "browser: signed out on server 1 (%d)" % status)
    delays = []
    for server in SERVERS[1:]:
        while time.monotonic() - start < 5 and verify(server) != 401:
            time.sleep(0.002)
        delays.append(time.monotonic() - start)
    figures["sign_out_ms"] = [round(delay * 1000, 1) for delay in delays]
    check(max(delays) < 1, "browser: signed out on server 1, refused by the others after %s ms (limit 1000)"
          % ", ".join("%.1f" % (delay * 1000) for delay in delays))


def audit_chain(admin):
    """Every server mints tokens (each an audit record) from 8 threads at once."""
    counts = []
    lock = threading.Lock()

    def worker(server, index):
        client = Client(server)
        statuses = []
        for number in range(25):
            body = json.dumps({"agent_id": "chain-%d-%d" % (index, number), "role": "developer", "ttl": 60})
            status, _ = client.request(
                "POST", "/api/agents", dict(bearer(admin, fresh_ip()), **{"Content-Type": "application/json"}), body)
            statuses.append(status)
        with lock:
            counts.extend(statuses)

    threads = [threading.Thread(target=worker, args=(server, index))
               for index, server in enumerate(SERVERS * 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    time.sleep(1.5)  # each server's audit flush
    verify = subprocess.run([BINARY, "audit", "verify", "--data-dir", DATA_DIR, "--database", DATABASE],
                            capture_output=True, text=True)
    figures["audit"] = {"mints": counts.count(201), "verify": verify.stdout.strip()}
    check(counts.count(201) == len(counts), "audit: %d of %d mints on %d servers at once"
          % (counts.count(201), len(counts), len(SERVERS)))
    check(verify.returncode == 0, "audit: agenthost audit verify: " + (verify.stdout.strip() or verify.stderr.strip()))


def webhook_dedup():
    if not WEBHOOK_SECRET:
        print("skip  webhooks: AGENTHOST_GITHUB_WEBHOOK_SECRET was not set for the cluster")
        return
    accepted_once = 0
    rounds = 20
    for _ in range(rounds):
        body = json.dumps({"ref": "refs/heads/main", "n": random.random()}).encode()
        signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-GitHub-Delivery": str(uuid.uuid4()), "X-GitHub-Event": "push", "X-Hub-Signature-256": signature,
                   "Content-Type": "application/json"}
        barrier = threading.Barrier(2)
        answers = []
        lock = threading.Lock()

        def send(server):
            client = Client(server)
            client.request("GET", "/health")
            barrier.wait()
            status, data = client.request("POST", "/webhooks/github", headers, body)
            with lock:
                answers.append((status, json.loads(data).get("status") if status == 200 else data[:80]))

        threads = [threading.Thread(target=send, args=(server,)) for server in SERVERS[:2]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        if sorted(answer[1] for answer in answers) == ["accepted", "duplicate"]:
            accepted_once += 1
        else:
            print("      webhooks: answers %s" % answers)
    figures["webhook_rounds_accepted_once"] = "%d/%d" % (accepted_once, rounds)
    check(accepted_once == rounds, "webhooks: the same delivery to two servers at once, accepted once in %d of %d rounds"
          % (accepted_once, rounds))


def keys(command):
    return subprocess.run([BINARY, "keys"] + command + ["--data-dir", DATA_DIR], check=True, capture_output=True, text=True)


def reload_all():
    for pid in PIDS:
        os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)


def everywhere(token):
    return [Client(server).request("GET", "/api/whoami", bearer(token, fresh_ip()))[0] for server in SERVERS]


def key_rotation():
    old_token = mint("before-rotation", "developer")
    old_key = [line.split()[0] for line in keys(["list"]).stdout.splitlines()
               if line.split()[1:2] == ["primary"] and not line.startswith("vault-")]
    keys(["rotate"])
    reload_all()
    new_token = mint("after-rotation", "developer")
    check(everywhere(new_token) == [200] * len(SERVERS) and everywhere(old_token) == [200] * len(SERVERS),
          "keys: rotated and reloaded; the new key's token and the old key's both work on every server")
    check(len(old_key) == 1, "keys: the old primary key is %s" % old_key)
    if old_key:
        keys(["retire", old_key[0]])
        reload_all()
        check(everywhere(old_token) == [401] * len(SERVERS) and everywhere(new_token) == [200] * len(SERVERS),
              "keys: the old key retired and reloaded; its token is refused on every server, the new one works")


def metric(admin, server, name):
    status, body = Client(server).request("GET", "/metrics", bearer(admin))
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def outage(token, admin):
    """The database stopped for 3 s and started again in the middle of load."""
    statuses = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + 9

    def load():
        client = Client(URL)
        while time.monotonic() < stop_at:
            status, _ = client.request("GET", "/api/whoami", bearer(token, fresh_ip()))
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            time.sleep(0.005)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    subprocess.run([PG_CTL, "stop"], check=True)
    stopped = time.monotonic()
    time.sleep(1.5)
    ready = [Client(server).request("GET", "/health/ready")[0] for server in SERVERS]
    isolated = [metric(admin, server, "agenthost_rate_limit_isolated") for server in SERVERS]
    time.sleep(1.5)
    subprocess.run([PG_CTL, "start"], check=True)
    down = time.monotonic() - stopped
    for thread in threads:
        thread.join(30)
    # Back: ready again and sharing, within a few seconds.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        back = [Client(server).request("GET", "/health/ready")[0] for server in SERVERS]
        shared = [metric(admin, server, "agenthost_rate_limit_isolated") for server in SERVERS]
        if back == [200] * len(SERVERS) and shared == [0.0] * len(SERVERS):
            break
        time.sleep(0.2)
    recovered = time.monotonic() - (stopped + down)
    errors = sum(count for status, count in statuses.items() if status >= 500 or status == 0)
    figures["outage"] = {"statuses": statuses, "down_seconds": round(down, 1), "ready_during": ready,
                         "isolated_during": isolated, "recovered_seconds": round(recovered, 1)}
    check(errors == 0, "outage: %d requests while the database was down %.1f s; statuses %s (no 5xx)"
          % (sum(statuses.values()), down, statuses))
    check(ready == [503] * len(SERVERS), "outage: /health/ready during it %s" % ready)
    check(isolated == [1.0] * len(SERVERS), "outage: agenthost_rate_limit_isolated during it %s" % isolated)
    check(back == [200] * len(SERVERS) and shared == [0.0] * len(SERVERS),
          "outage: ready and sharing again %.1f s after the start (%s, %s)" % (recovered, back, shared))


def main():
    token = mint("load", "developer")
    admin = mint("ops", "admin")
    print("cluster: %d servers behind %s" % (len(SERVERS), URL), flush=True)
    time.sleep(2.5)  # every server has seen the others
    accuracy(token)
    burst(token, "burst")
    failure_budget()
    revocation(admin)
    launched_lease()
    browser_sign_out()
    audit_chain(admin)
    webhook_dedup()
    key_rotation()
    token = mint("load", "developer")  # signed by the key in force
    admin = mint("ops", "admin")
    outage(token, admin)
    burst(token, "burst_after_outage")
    print(json.dumps(figures, indent=2, sort_keys=True))
    if failures:
        print("scale-out: %d check(s) failed" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("scale-out: every check passed")


if __name__ == "__main__":
    main()
