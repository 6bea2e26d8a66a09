import Foundation
import HTTPTypes
import NIOHTTP1
import SecurityCore

/// Which headers cross the proxy, each way: one table, ``rules``, says what the proxy does to each
/// header it treats specially; every other header crosses as it is.
///
/// Besides the table, toward the upstream:
/// - the headers of every ``CredentialKind`` the pipeline accepts (`X-Setup-Token`, an embedder's
///   own), and the header the upstream's secret goes in, are the agent's credentials: stripped;
/// - any header whose value holds a credential of one of those kinds is stripped, whatever its name;
/// - the headers that `Connection` names are hop-by-hop for this message: stripped;
/// - `Proxy-*` and `X-Forwarded-*` in any spelling are stripped as hop-by-hop and client address.
///
/// Back to the agent: every header but the hop-by-hop ones, each value scrubbed of the secret.
enum ProxyHeaders {
    /// What the proxy does to a header.
    enum Rule: Sendable, Equatable {
        /// Describes one connection (RFC 9110 §7.6.1): stripped both ways, never carries a secret.
        case hopByHop
        /// An AgentHost credential or identity of the agent's: stripped toward the upstream.
        /// `injectable` says whether an upstream's secret may be put there instead
        /// (`Authorization`, `Cookie`) or not (`X-Agent-*`).
        case agentCredential(injectable: Bool)
        /// Says where the client is: stripped toward the upstream (the upstream learns nothing of
        /// the agent's network), never carries a secret.
        case clientAddress
        /// Set by the proxy or its HTTP client for the call it makes (`Host` from the upstream's
        /// URL, `Accept-Encoding: identity`, the body's framing): the agent's value is stripped,
        /// and a secret never goes there.
        case setByProxy
        /// Crosses as it is, but a secret never goes there: it frames the message.
        case framing

        /// Whether the agent's header of this rule is dropped on the way to the upstream.
        var strippedOutbound: Bool { self != .framing }
        /// Whether a secret may be injected as a header of this rule.
        var injectable: Bool { self == .agentCredential(injectable: true) }
    }

    /// The headers the proxy treats specially, by lower-case name: the one place that says so.
    static let rules: [String: Rule] = {
        var rules: [String: Rule] = [
            // Hop-by-hop.
            "connection": .hopByHop, "keep-alive": .hopByHop, "te": .hopByHop, "trailer": .hopByHop,
            "transfer-encoding": .hopByHop, "upgrade": .hopByHop, "proxy-connection": .hopByHop,
            // The agent's own credentials and identity.
            "authorization": .agentCredential(injectable: true), "cookie": .agentCredential(injectable: true),
            "x-agent-token": .agentCredential(injectable: false), "x-agent-id": .agentCredential(injectable: false),
            "x-agent-role": .agentCredential(injectable: false), "x-agent-team": .agentCredential(injectable: false),
            // Set by the proxy for its own call.
            "host": .setByProxy, "content-length": .setByProxy, "accept-encoding": .setByProxy, "expect": .setByProxy,
            // Crosses, never injected.
            "content-type": .framing,
        ]
        // Where the client is, in every common spelling (X-Forwarded-* is matched by its prefix too).
        for name in [
            "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip",
            "true-client-ip", "x-client-ip", "cf-connecting-ip", "cf-connecting-ipv6", "fastly-client-ip", "x-cluster-client-ip",
            "x-original-forwarded-for", "x-originating-ip", "x-remote-ip", "x-remote-addr", "client-ip", "x-envoy-external-address",
            "x-azure-clientip", "x-appengine-user-ip", "akamai-client-ip",
        ] {
            rules[name] = .clientAddress
        }
        return rules
    }()

    /// The rule for `name` (lower case), `nil` for a header that crosses as it is.
    static func rule(for name: String) -> Rule? {
        if let rule = rules[name] { return rule }
        if name.hasPrefix("proxy-") { return .hopByHop }
        if name.hasPrefix("x-forwarded-") { return .clientAddress }
        return nil
    }

    /// Whether a secret must never be injected as `name` (lower case): every header of the table
    /// but `Authorization` and `Cookie`.
    static func neverInjected(_ name: String) -> Bool {
        rule(for: name).map { !$0.injectable } ?? false
    }

    /// The agent's `headers` as they go to `upstream`, without the secret (the caller injects it).
    /// `kinds` are the credential kinds the server accepts, `credentialHeaders` the other headers
    /// it reads a credential from.
    static func outbound(
        _ headers: HTTPFields, upstream: Upstream, kinds: [CredentialKind], credentialHeaders: Set<String>
    ) -> HTTPHeaders {
        let named = connectionTokens(headers)
        let injected = upstream.injection.headerName
        var result = HTTPHeaders()
        for field in headers {
            let name = field.name.canonicalName
            if let rule = rule(for: name), rule.strippedOutbound { continue }
            guard name != injected, !named.contains(name), !credentialHeaders.contains(name),
                !kinds.contains(where: { $0.headers.contains(name) }), !kinds.anyOccurs(in: field.value)
            else { continue }
            result.add(name: name, value: field.value)
        }
        result.add(name: "accept-encoding", value: "identity")
        return result
    }

    /// The upstream's `headers` as they go back to the agent: hop-by-hop ones dropped, every value
    /// scrubbed by `scrubber`.
    static func inbound(_ headers: HTTPHeaders, scrubber: StreamScrubber) -> HTTPFields {
        var connection = Set<String>()
        for value in headers[canonicalForm: "connection"] { connection.insert(value.lowercased()) }
        var result = HTTPFields()
        for (name, value) in headers {
            let lower = name.lowercased()
            guard rule(for: lower) != .hopByHop, !connection.contains(lower), let fieldName = HTTPField.Name(lower) else { continue }
            result.append(HTTPField(name: fieldName, value: scrubber.scrubbed(value)))
        }
        return result
    }

    /// The header names a `Connection` header lists: hop-by-hop for this message.
    private static func connectionTokens(_ headers: HTTPFields) -> Set<String> {
        var names = Set<String>()
        for value in headers[values: .connection] {
            for token in value.split(separator: ",") { names.insert(token.trimmingCharacters(in: .whitespaces).lowercased()) }
        }
        return names
    }
}
