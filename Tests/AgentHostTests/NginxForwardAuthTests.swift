import AgentHost
import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import SecurityCore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Debian's nginx, on 127.0.0.1, running `Docs/examples/nginx-forward-auth.conf` in front of a
/// tiny upstream that echoes the identity headers it receives, with AgentHost answering
/// `auth_request`. `scripts/bootstrap --test` fetches nginx when the machine has none.
struct NginxForwardAuthTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// nginx from `$AGENTHOST_NGINX`, the copy `scripts/bootstrap --test` unpacks, or the system.
    static var nginx: String? {
        let candidates = [
            ProcessInfo.processInfo.environment["AGENTHOST_NGINX"],
            packageRoot.path + "/.build/test-tools/nginx/usr/sbin/nginx",
            "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/opt/homebrew/bin/nginx", "/usr/local/bin/nginx",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A port nothing listens on now (the kernel's pick, released for nginx to bind).
    static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, length) == 0 && getsockname(socketFD, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The example config with this test's ports, plus the echoing upstream, as a whole nginx.conf.
    static func configuration(directory: String, front: Int, agenthost: Int, upstream: Int) throws -> String {
        var example = try String(contentsOf: packageRoot.appendingPathComponent("Docs/examples/nginx-forward-auth.conf"), encoding: .utf8)
        for (from, to) in [
            ("server 127.0.0.1:8080;", "server 127.0.0.1:\(agenthost);"), ("server 127.0.0.1:3000;", "server 127.0.0.1:\(upstream);"),
            ("listen 80;", "listen 127.0.0.1:\(front);"),
        ] {
            guard example.contains(from) else { throw POSIXError(.EINVAL) }
            example = example.replacingOccurrences(of: from, with: to)
        }
        let temporary = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map { "    \($0)_temp_path \(directory)/\($0);" }.joined(separator: "\n")
        return """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
            \(temporary)
            \(example)
                server {
                    listen 127.0.0.1:\(upstream);
                    location / {
                        default_type text/plain;
                        return 200 "agent=$http_x_agent_id role=$http_x_agent_role team=$http_x_agent_team token=$http_authorization$http_x_agent_token\\n";
                    }
                }
            }
            """
    }

    @Test(.timeLimit(.minutes(1)))
    func nginxAuthRequestAllowsRefusesAndLimits() async throws {
        guard let nginx = Self.nginx else {
            Issue.record("nginx is not installed: run scripts/bootstrap --test (it unpacks Debian's nginx into .build/test-tools)")
            return
        }
        let fixture = try HostFixture(trustedProxies: ["127.0.0.1"])
        let developer = try fixture.token(agent: "dev-1", role: "developer", team: "core").token
        let viewer = try fixture.token(agent: "view-1", role: "viewer").token
        let ceo = try fixture.token(agent: "boss", role: "ceo").token
        try await fixture.application().test(.live) { client in
            let directory = try TemporaryDirectory()
            let front = try Self.freePort()
            let upstream = try Self.freePort()
            let configPath = directory.path + "/nginx.conf"
            try Self.configuration(directory: directory.path, front: front, agenthost: try #require(client.port), upstream: upstream)
                .write(toFile: configPath, atomically: true, encoding: .utf8)

            let process = Process()
            process.executableURL = URL(fileURLWithPath: nginx)
            process.arguments = ["-p", directory.path, "-c", configPath, "-e", directory.path + "/error.log"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer {
                // SIGKILL: nginx started from a test process inherits a signal mask that blocks SIGTERM,
                // and without a master process it never unblocks it.
                process.killInBackground()
            }

            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            func send(
                _ method: HTTPMethod, _ path: String, _ headers: [(String, String)] = [], port: Int? = nil
            ) async throws -> (Int, String, HTTPHeaders) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port ?? front)\(path)")
                request.method = method
                for (name, value) in headers { request.headers.add(name: name, value: value) }
                let response = try await http.execute(request, timeout: .seconds(20))  // generous: the whole suite runs at once
                let body = try await response.body.collect(upTo: 1 << 16)
                return (Int(response.status.code), String(buffer: body), response.headers)
            }
            do {
                // Wait (bounded) for nginx to listen, asking the echo server so no refusal is counted.
                var ready = false
                try? await eventually("nginx listens") {
                    ready = (try? await send(.GET, "/ready", port: upstream)) != nil
                    return ready
                }
                let errors = (try? String(contentsOfFile: directory.path + "/error.log", encoding: .utf8)) ?? ""
                try #require(ready, "nginx did not start: \(errors)")

                // No credential: nginx passes AgentHost's 401 and its challenge through.
                let anonymous = try await send(.GET, "/projects/1")
                #expect(anonymous.0 == 401)
                #expect(anonymous.2.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)

                // Allowed: the upstream sees the verified identity, not the client's claim, and no token.
                let allowed = try await send(
                    .GET, "/projects/1",
                    [
                        ("Authorization", "Bearer \(developer)"), ("X-Agent-ID", "boss"), ("X-Agent-Role", "ceo"),
                    ])
                #expect(allowed.0 == 401, "identity headers that disagree with the token are refused")
                let clean = try await send(.GET, "/projects/1", [("Authorization", "Bearer \(developer)")])
                #expect(clean.0 == 200)
                #expect(clean.1 == "agent=dev-1 role=developer team=core token=\n")

                // Refused by the policy: viewers never write.
                #expect(try await send(.POST, "/projects/1", [("Authorization", "Bearer \(viewer)")]).0 == 403)
                #expect(try await send(.GET, "/projects/1", [("Authorization", "Bearer \(viewer)")]).0 == 200)
                // A forged token.
                #expect(try await send(.GET, "/projects/1", [("Authorization", "Bearer ah1.forged")]).0 == 401)

                // Limited: the 21st agent creation in a minute is a 429 with Retry-After, not a 500.
                for _ in 0..<20 {
                    #expect(try await send(.POST, "/api/agents", [("Authorization", "Bearer \(ceo)")]).0 == 200)
                }
                let limited = try await send(.POST, "/api/agents", [("Authorization", "Bearer \(ceo)")])
                #expect(limited.0 == 429)
                #expect(limited.2.first(name: "Retry-After") == "3")
            } catch {
                try await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }
}
