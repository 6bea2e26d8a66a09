import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import SecurityCore
import SecurityStore
import ServiceLifecycle
import Synchronization
import Testing

@testable import AgentHost

/// The CONNECT proxy of launched agents, on 127.0.0.1: a real listener, a raw client, the fake
/// upstream as the host tunnelled to.
@Suite(.timeLimit(.minutes(2)))
struct ConnectProxyTests {
    typealias Setup = ProxyTests.Setup

    /// Runs `body` with the proxy listening over `setup`'s components, and its port.
    static func withConnectProxy(_ setup: Setup, _ body: @Sendable (Int) async throws -> Void) async throws {
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let quiet = Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() }
        let components = setup.fixture.components
        let proxy = ConnectProxy(components: components, host: "127.0.0.1", port: 0, logger: quiet) { port in
            components.connectPort.withLock { $0 = port }
            announce.yield(port)
            announce.finish()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await proxy.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            defer { group.cancelAll() }
            try await body(port)
        }
    }

    /// A run of `builder-7` allowed `hosts`: its lease and id.
    static func lease(_ setup: Setup, _ client: any TestClientProtocol, hosts: [String]) async throws -> (String, String) {
        let started = try await RunRoutesTests.start(setup, client, ["allow_hosts": hosts])
        let lease = try #require(started["lease"] as? String)
        let runID = try #require(started["run_id"] as? String)
        return (lease, runID)
    }

    static func connect(_ port: Int, _ authority: String, lease: String?, method: String = "CONNECT") async throws -> (
        RawConnection, RawResponse?
    ) {
        let connection = try RawConnection(port: port)
        var head = "\(method) \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let lease { head += "Proxy-Authorization: Basic \(Data("agenthost:\(lease)".utf8).base64EncodedString())\r\n" }
        await connection.send(head + "\r\n")
        return (connection, await connection.readResponse())
    }

    @Test func aLeaseTunnelsToAnAllowedHostAndTheTunnelIsAudited() async throws {
        try await ProxyTests.withProxy { setup, client in
            try await Self.withConnectProxy(setup) { proxyPort in
                let target = "127.0.0.1:\(setup.port)"
                let (lease, runID) = try await Self.lease(setup, client, hosts: [target])
                let (tunnel, answer) = try await Self.connect(proxyPort, target, lease: lease)
                #expect(answer?.status == 200)
                // Through the tunnel, the host itself answers: nothing injected, nothing read.
                await tunnel.send("GET /v1/echo HTTP/1.1\r\nHost: \(target)\r\nConnection: close\r\n\r\n")
                let through = await tunnel.readResponse()
                #expect(through?.status == 200, "\(through?.body ?? "nothing")")
                #expect(through?.body.contains(ProxyTests.secret) == false, "a tunnel injects nothing")
                #expect(setup.upstream.hits.withLock { $0["/v1/echo"] } == 1)
                tunnel.close()

                var tunnels: [AuditEvent] = []
                try await eventually("the tunnel is audited when it closes") {
                    try await setup.audit.flush()
                    tunnels = try await setup.store.auditRecords(after: 0, limit: 100, actor: "builder-7", action: "connect.tunnel")
                        .map(\.event)
                    return !tunnels.isEmpty
                }
                let record = try #require(tunnels.first)
                #expect(record.target == target && record.details["run"] == runID && record.details["address"] == "127.0.0.1")
                #expect(Int(record.details["bytes_up"] ?? "") ?? 0 > 40 && Int(record.details["bytes_down"] ?? "") ?? 0 > 40)
                #expect(record.details["milliseconds"] != nil)
            }
        }
    }

    @Test func aTunnelIsRefusedWithoutALeaseElsewhereOrToANameThatResolvesInside() async throws {
        try await ProxyTests.withProxy { setup, client in
            try await Self.withConnectProxy(setup) { proxyPort in
                let allowed = "127.0.0.1:\(setup.port)"
                let (lease, runID) = try await Self.lease(setup, client, hosts: [allowed, "localhost:\(setup.port)"])
                let (_, anonymous) = try await Self.connect(proxyPort, allowed, lease: nil)
                #expect(anonymous?.status == 407)
                #expect(anonymous?.headers["proxy-authenticate"] == #"Basic realm="agenthost""#)
                let plainToken = try setup.token()
                let (_, token) = try await Self.connect(proxyPort, allowed, lease: plainToken)
                #expect(token?.status == 407, "an agent token is not a lease")
                let (_, elsewhere) = try await Self.connect(proxyPort, "127.0.0.1:\(proxyPort)", lease: lease)
                #expect(elsewhere?.status == 403)
                #expect(elsewhere?.body.contains("not_allowed") == true)
                // Allowed by name, but the name resolves to loopback: DNS decides nothing.
                let (_, byName) = try await Self.connect(proxyPort, "localhost:\(setup.port)", lease: lease)
                #expect(byName?.status == 403)
                #expect(byName?.body.contains("resolves to a loopback") == true)
                let (_, get) = try await Self.connect(proxyPort, "http://\(allowed)/", lease: lease, method: "GET")
                #expect(get?.status == 405)
                #expect(setup.upstream.hits.withLock { $0.isEmpty }, "no refused tunnel reached the host")

                // Its run over, the lease opens nothing.
                _ = try await client.execute(
                    uri: "/api/runs/\(runID)/end", method: .post, headers: RunRoutesTests.jsonHeaders(try RunRoutesTests.admin(setup)),
                    body: ByteBuffer(string: "{}"))
                let (_, ended) = try await Self.connect(proxyPort, allowed, lease: lease)
                #expect(ended?.status == 407)
            }
        }
    }

    @Test func aRunMayBeAllowedOtherHostsOnlyWhereAProxyListens() async throws {
        try await ProxyTests.withProxy { setup, client in
            let refused = try await RunRoutesTests.start(setup, client, ["allow_hosts": ["pypi.org"]], status: .badRequest)
            #expect((refused["detail"] as? String)?.contains("connect_port") == true)
        }
    }

    @Test func eachAgentsTunnelsAreRateLimited() async throws {
        try await ProxyTests.withProxy { setup, client in
            try await Self.withConnectProxy(setup) { proxyPort in
                let (lease, _) = try await Self.lease(setup, client, hosts: ["127.0.0.1:\(setup.port)"])
                // The clock stands still: the burst (60) is all there is.
                var statuses: [Int] = []
                for _ in 0..<61 {
                    let (tunnel, answer) = try await Self.connect(proxyPort, "127.0.0.1:\(setup.port)", lease: lease)
                    statuses.append(answer?.status ?? 0)
                    tunnel.close()
                }
                #expect(statuses.dropLast().allSatisfy { $0 == 200 }, "\(statuses)")
                #expect(statuses.last == 429)
            }
        }
    }

    @Test func thePolicyMayAllowARolesHostsForEveryRun() async throws {
        let policy: @Sendable (Int) throws -> Policy = { port in
            try PolicyLoader.load(
                yaml: DefaultPolicy.text + "\negress:\n  developer: [\"127.0.0.1:\(port)\"]\n", source: "policy.yaml")
        }
        try await ProxyTests.withProxy(policy: policy) { setup, client in
            try await Self.withConnectProxy(setup) { proxyPort in
                let target = "127.0.0.1:\(setup.port)"
                // No host allowed by the run: the policy's list for its role counts.
                let (lease, _) = try await Self.lease(setup, client, hosts: [])
                let (tunnel, answer) = try await Self.connect(proxyPort, target, lease: lease)
                #expect(answer?.status == 200)
                tunnel.close()
                // Another role: not on its list.
                let started = try await RunRoutesTests.start(setup, client, ["role": "member"])
                let (_, refused) = try await Self.connect(proxyPort, target, lease: try #require(started["lease"] as? String))
                #expect(refused?.status == 403)
            }
        }
    }

    @Test(arguments: [
        ("pypi.org:443", "pypi.org", 443), ("[::1]:8443", "::1", 8443), ("PyPI.org:443", "pypi.org", 443), ("10.0.0.1:22", "10.0.0.1", 22),
    ])
    func anAuthorityIsSplitStrictly(text: String, host: String, port: Int) {
        let split = Egress.split(text)
        #expect(split?.0 == host && split?.1 == port)
    }

    @Test(arguments: ["pypi.org", "pypi.org:0", "pypi.org:99999", ":443", "[::1:443", "bad host:443", "a..b:443", "::1:443"])
    func aBadAuthorityIsRefused(text: String) {
        #expect(Egress.split(text) == nil)
    }
}
