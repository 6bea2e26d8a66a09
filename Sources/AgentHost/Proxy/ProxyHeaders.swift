import Foundation
import HTTPTypes
import NIOHTTP1
import SecurityCore

/// Which headers cross the proxy, each way.
///
/// Toward the upstream: every header but the agent's credentials (`Authorization`,
/// `X-Agent-Token`, `Cookie`, the header the upstream's secret goes in, every other header
/// AgentHost reads a credential or an identity from, and any header whose value holds an AgentHost
/// credential), the hop-by-hop headers (RFC 9110 §7.6.1,
/// and any that `Connection` names), `Proxy-*`, `Host` (set from the upstream's URL), the
/// client's forwarding headers, and `Accept-Encoding` (replaced by `identity`: a compressed answer
/// could not be scrubbed).
///
/// Back to the agent: every header but the hop-by-hop ones, each value scrubbed of the secret.
enum ProxyHeaders {
    /// Hop-by-hop headers: they describe one connection and never cross a proxy.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection",
    ]

    /// Headers that carry an AgentHost credential or identity, or say where the client is.
    static let agentOnly: Set<String> = [
        "authorization", "x-agent-token", "cookie", "x-setup-token", "x-agent-id", "x-agent-role", "x-agent-team",
        "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "forwarded", "host",
        "content-length", "accept-encoding", "expect",
    ]

    /// Whether a secret must never be injected as `name` (lower case): headers that frame the
    /// message, route it, or that the proxy itself sets.
    static func neverInjected(_ name: String) -> Bool {
        hopByHop.contains(name) || name.hasPrefix("proxy-")
            || ["host", "content-length", "content-type", "x-agent-token", "x-agent-id", "x-agent-role", "x-agent-team", "expect"]
                .contains(name)
    }

    /// The agent's `headers` as they go to `upstream`, without the secret (the caller injects it).
    static func outbound(_ headers: HTTPFields, upstream: Upstream) -> HTTPHeaders {
        let named = connectionTokens(headers)
        let injected = upstream.injection.headerName
        var result = HTTPHeaders()
        for field in headers {
            let name = field.name.canonicalName
            guard !hopByHop.contains(name), !name.hasPrefix("proxy-"), !agentOnly.contains(name), name != injected,
                !named.contains(name), !holdsAgentHostCredential(field.value)
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
            guard !hopByHop.contains(lower), !lower.hasPrefix("proxy-"), !connection.contains(lower),
                let fieldName = HTTPField.Name(lower)
            else { continue }
            result.append(HTTPField(name: fieldName, value: String(decoding: scrubber.scrubbed(value.utf8), as: UTF8.self)))
        }
        return result
    }

    /// The prefixes of AgentHost's own credentials: agent tokens and sessions, API keys, device
    /// secrets, setup tokens.
    static let credentialPrefixes = ["ah1.", "ahk_", "ahd_", "ahs_"]

    /// Whether `value` holds an AgentHost credential: such a header never goes upstream, whatever
    /// its name (an agent may put its token in a header this upstream does not read it from).
    static func holdsAgentHostCredential(_ value: String) -> Bool {
        credentialPrefixes.contains { value.contains($0) }
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
