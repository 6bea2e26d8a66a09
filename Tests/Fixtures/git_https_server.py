#!/usr/bin/env python3
"""A forge for the proxy's git test: `git http-backend` over HTTPS on 127.0.0.1.

Usage: git_https_server.py PORT_FILE CERT KEY PROJECT_ROOT PAT

It serves the bare repositories under PROJECT_ROOT as git's smart HTTP protocol, and only to a
request whose Authorization is HTTP Basic `x-access-token:PAT` (what AgentHost injects); any other
gets 401. It writes the port it bound to PORT_FILE once it listens, serves until it is killed, and
binds 127.0.0.1 only. Standard library only.
"""
import base64
import http.server
import os
import ssl
import subprocess
import sys


def main():
    port_file, cert, key, root, pat = sys.argv[1:6]
    expected = "Basic " + base64.b64encode(f"x-access-token:{pat}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length", "0") or "0"))

        def answer(self, status, headers, payload):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def serve(self):
            payload = self.body()
            if self.headers.get("Authorization") != expected:
                self.answer(401, [("WWW-Authenticate", 'Basic realm="forge"')], b"no PAT\n")
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(payload)),
                "REMOTE_USER": "x-access-token",
                "REMOTE_ADDR": "127.0.0.1",
            }
            for header, variable in [("Git-Protocol", "GIT_PROTOCOL"), ("Content-Encoding", "HTTP_CONTENT_ENCODING")]:
                if self.headers.get(header):
                    env[variable] = self.headers[header]
            result = subprocess.run(["git", "http-backend"], input=payload, env=env, capture_output=True, check=False)
            head, _, rest = result.stdout.partition(b"\r\n\r\n")
            if not rest and b"\n\n" in result.stdout:
                head, _, rest = result.stdout.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.answer(status, headers, rest)

        do_GET = serve
        do_POST = serve

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(port_file + ".tmp", "w") as handle:
        handle.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
