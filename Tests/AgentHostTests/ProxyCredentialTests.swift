import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SecurityCore
import Synchronization
import Testing

@testable import AgentHost

/// A hostile agent's ways of sending an AgentHost credential upstream, and the one table of
/// header rules: none of the agent's credentials leaves through the proxy, in a header, the path
/// or the query, whatever kind it is.
extension ProxyTests {
    /// A credential kind of an embedder's own, declared once: `pk_…`, also presented as
    /// `X-Partner-Key`. Nothing else in AgentHost names it.
    struct PartnerKeys: Authenticator {
        static let kind = CredentialKind(name: "partner-key", prefix: "pk_", minimumBodyLength: 24, headers: ["x-partner-key"])
        var kind: CredentialKind { Self.kind }

        func authenticate(_ credential: PresentedCredential) -> Result<Principal, AuthenticationFailure>? {
            .failure(AuthenticationFailure(.invalidCredential, "no partner is known"))
        }
    }

    static let partnerKey = "pk_" + String(repeating: "Zx9", count: 10)

    @Test func aNewCredentialKindIsStrippedByTheProxyWithNoOtherEdit() async throws {
        try await Self.withProxy(authenticators: [PartnerKeys()]) { setup, client in
            var headers = Self.bearer(try setup.token())
            headers[HTTPField.Name("x-partner-key")!] = "not-a-key-but-its-header"
            headers[HTTPField.Name("x-note")!] = "mine is \(Self.partnerKey), keep it"
            headers[HTTPField.Name("x-kept")!] = "Noah1.2 ahk_short"
            let response = try await client.execute(uri: "/proxy/fake/v1/headers", method: .get, headers: headers)
            #expect(response.status == .ok)
            let seen = try #require(setup.upstream.received.withLock { $0.last })
            #expect(seen[HTTPField.Name("x-partner-key")!] == nil, "the kind's own header went upstream")
            #expect(seen[HTTPField.Name("x-note")!] == nil, "a header holding a partner key went upstream")
            // Text that only looks like the start of a credential is not one.
            #expect(seen[HTTPField.Name("x-kept")!] == "Noah1.2 ahk_short")
            // The same kind in the query is refused before anything goes upstream.
            let query = try await client.execute(
                uri: "/proxy/fake/v1/echo?key=\(Self.partnerKey)", method: .get, headers: Self.bearer(try setup.token()))
            #expect(query.status == .badRequest && Self.problemCode(query) == "credential_in_url")
            #expect(setup.upstream.hits.withLock { $0["/v1/echo"] } == nil)
        }
        // Without the declaration, the same header crosses: the declaration is what strips it.
        try await Self.withProxy { setup, client in
            var headers = Self.bearer(try setup.token())
            headers[HTTPField.Name("x-partner-key")!] = "not-a-key-but-its-header"
            _ = try await client.execute(uri: "/proxy/fake/v1/headers", method: .get, headers: headers)
            let seen = try #require(setup.upstream.received.withLock { $0.last })
            #expect(seen[HTTPField.Name("x-partner-key")!] == "not-a-key-but-its-header")
        }
    }

    /// `?access_token=<the agent's own token>`, as it is and percent-encoded, once or twice, and in
    /// the path: refused `400 credential_in_url`, and the upstream sees nothing of it.
    @Test func anAgentTokenInTheQueryOrPathIsRefusedNotForwarded() async throws {
        try await Self.withProxy { setup, client in
            let token = try setup.token()
            let once = token.replacingOccurrences(of: ".", with: "%2E")
            let twice = once.replacingOccurrences(of: "%", with: "%25")
            let uris = [
                "/proxy/fake/v1/echo?access_token=\(token)", "/proxy/fake/v1/echo?a=1&access_token=\(once)",
                "/proxy/fake/v1/echo?x=\(twice)", "/proxy/fake/v1/\(token)/echo",
                // An API key's shape, though this server takes none: AgentHost's own kinds never leave.
                "/proxy/fake/v1/echo?key=ahk_\(String(repeating: "a", count: 16)).\(String(repeating: "b", count: 43))",
            ]
            for uri in uris {
                let response = try await client.execute(uri: uri, method: .get, headers: Self.bearer(token))
                #expect(response.status == .badRequest, "\(uri.prefix(40))")
                #expect(Self.problemCode(response) == "credential_in_url", "\(uri.prefix(40))")
                #expect(!String(buffer: response.body).contains(token))
            }
            #expect(setup.upstream.hits.withLock { $0.isEmpty }, "a call with a credential in its URL reached the upstream")
            // An ordinary query still crosses.
            let plain = try await client.execute(
                uri: "/proxy/fake/v1/echo?version=ah1.5&q=a%2Eb", method: .get, headers: Self.bearer(token))
            #expect(plain.status == .ok)
        }
    }

    @Test func clientAddressHeadersInEverySpellingStayHere() async throws {
        try await Self.withProxy { setup, client in
            var headers = Self.bearer(try setup.token())
            let addressHeaders = [
                "true-client-ip", "x-client-ip", "cf-connecting-ip", "x-forwarded-for", "x-forwarded-server", "forwarded", "x-real-ip",
                "fastly-client-ip", "x-cluster-client-ip", "x-original-forwarded-for",
            ]
            for name in addressHeaders { headers[HTTPField.Name(name)!] = "203.0.113.7" }
            headers[HTTPField.Name("x-request-purpose")!] = "kept"
            let response = try await client.execute(uri: "/proxy/fake/v1/headers", method: .get, headers: headers)
            #expect(response.status == .ok)
            let seen = try #require(setup.upstream.received.withLock { $0.last })
            for name in addressHeaders { #expect(seen[HTTPField.Name(name)!] == nil, "\(name) went upstream") }
            #expect(seen[HTTPField.Name("x-request-purpose")!] == "kept")
        }
    }

    /// The table's rules, as an upstream's `inject` setting meets them.
    @Test func theHeaderTableDecidesWhereASecretMayGo() throws {
        for name in ["authorization", "cookie", "x-api-key", "private-token", "x-setup-token"] {
            #expect(!ProxyHeaders.neverInjected(name), "\(name)")
        }
        for name in [
            "host", "content-length", "content-type", "transfer-encoding", "connection", "proxy-authorization", "x-agent-token",
            "x-agent-id", "expect", "x-forwarded-for", "true-client-ip", "x-forwarded-anything", "accept-encoding",
        ] {
            #expect(ProxyHeaders.neverInjected(name), "\(name)")
            #expect(throws: UpstreamError.self) {
                try Upstream(
                    name: "u", url: "https://example.test", grant: "K", inject: "\(name): {secret}", methods: ["GET"], paths: ["/**"])
            }
        }
        #expect(ProxyHeaders.rule(for: "content-type")?.strippedOutbound == false)
        #expect(ProxyHeaders.rule(for: "x-forwarded-prefix") == .clientAddress)
        #expect(ProxyHeaders.rule(for: "proxy-anything") == .hopByHop)
        #expect(ProxyHeaders.rule(for: "x-custom") == nil)
    }
}
