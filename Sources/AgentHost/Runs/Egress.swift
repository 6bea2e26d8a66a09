import NIOCore
import NIOPosix
import SecurityCore

/// Whether a launched agent may open a tunnel (`CONNECT host:port`) to a host that is not a
/// brokered upstream (Docs/RUN.md, "Other hosts").
///
/// In order: the lease (`Proxy-Authorization`, Basic with the lease as the password, or Bearer);
/// the host and port on its run's allow-list or the policy's `egress` list for the lease's role;
/// the agent's `egress` rate limit; then the address
/// the name resolves to, which must be global (no loopback, private, shared or link-local
/// address, whatever the name says: DNS rebinding). An IP literal the allow-list names exactly
/// is the operator's explicit choice and is let through. The tunnel goes to the address checked
/// here, never to a second resolution of the name.
struct Egress: Sendable {
    let components: AgentHost.Components

    /// What a tunnel request says.
    struct Request: Sendable {
        /// `host:port` as asked (`[v6]:port` for IPv6).
        let authority: String
        /// The credential in `Proxy-Authorization`, if any.
        let credential: String?
        /// The client's address.
        let client: IPAddress?
    }

    /// The answer.
    enum Decision: Sendable {
        /// Tunnel to `address`, for `principal`'s run `run`; `authority` normalized.
        case allow(address: SocketAddress, authority: String, principal: Principal, run: RunRecord)
        case refuse(Refusal, actor: String)
    }

    /// The scope that limits each agent's tunnels: 120 a minute, bursts of 60 (constants, checked
    /// by ConnectProxyTests).
    static let rateLimit = RateLimitScope(
        checked: "egress", limit: 120, period: .seconds(60), burst: 60, key: .principal, counts: .requests,
        routes: ["CONNECT /connect/**"].compactMap(RouteMatch.init))

    func decide(_ request: Request) async -> Decision {
        guard let credential = request.credential, let authenticator = components.leaseAuthenticator else {
            return .refuse(Self.proxyAuthentication("A tunnel needs the run's lease in Proxy-Authorization."), actor: "anonymous")
        }
        let principal: Principal
        let run: RunRecord
        switch authenticator.authenticate(PresentedCredential(credential, source: .header("proxy-authorization"))) {
        case .success(let proven)?:
            guard case .lease(let claims) = proven.subject, case .live(let live) = components.runs?.standing(of: claims.tokenID) else {
                return .refuse(Self.proxyAuthentication("The lease's run is not open."), actor: "anonymous")
            }
            (principal, run) = (proven, live)
        case .failure(let failure)?:
            return .refuse(Self.proxyAuthentication("The lease is not valid (\(failure.code))."), actor: "anonymous")
        case nil:
            return .refuse(Self.proxyAuthentication("Only a launched agent's lease opens a tunnel."), actor: "anonymous")
        }
        guard let asked = HostPort(request.authority) else {
            return .refuse(Refusal(status: 400, code: .invalidRequest, detail: "CONNECT takes host:port."), actor: principal.id)
        }
        let (host, port, authority) = (asked.host, asked.port, asked.description)
        // The run's own list, or the policy's for the lease's role.
        guard run.allowedHosts.contains(authority) || components.policy.egress[principal.role.rawValue]?.contains(asked) == true else {
            return .refuse(
                Refusal(
                    status: 403, code: .notAllowed,
                    detail: "This run may not reach \(authority.prefix(270)); its launcher did not allow it.",
                    extensions: ["host": .string(String(authority.prefix(270)))]),
                actor: principal.id)
        }
        if let limiter = components.pipeline.configuration.rateLimiter,
            let refusal = limiter.admit(
                method: "CONNECT", path: "/connect/\(authority)"[...], client: request.client?.description, principal: principal.id
            ).refusal
        {
            return .refuse(refusal, actor: principal.id)
        }
        let address: SocketAddress
        if let literal = IPAddress(host) {
            // Named exactly, as an address: the operator's choice, private or not.
            guard let socketAddress = try? SocketAddress(ipAddress: literal.description, port: port) else {
                return .refuse(Refusal(status: 400, code: .invalidRequest, detail: "CONNECT takes host:port."), actor: principal.id)
            }
            address = socketAddress
        } else {
            do {
                address = try await NIOThreadPool.singleton.runIfActive { try SocketAddress.makeAddressResolvingHost(host, port: port) }
            } catch {
                return .refuse(
                    Refusal(status: 502, code: .upstreamUnreachable, detail: "\(host.prefix(253)) does not resolve."), actor: principal.id)
            }
            guard let ip = address.ipAddress.flatMap({ IPAddress($0) }), ip.isGlobal else {
                return .refuse(
                    Refusal(
                        status: 403, code: .notAllowed,
                        detail:
                            "\(host.prefix(253)) resolves to a loopback, private or link-local address; only an address named as such in the allow-list may be reached."
                    ), actor: principal.id)
            }
        }
        return .allow(address: address, authority: authority, principal: principal, run: run)
    }

    /// `host` (lower case, IPv6 without brackets) and `port` of `host:port` / `[v6]:port`.
    static func split(_ authority: String) -> (String, Int)? {
        HostPort(authority).map { ($0.host, $0.port) }
    }

    static func proxyAuthentication(_ detail: String) -> Refusal {
        Refusal(
            status: 407, code: .missingCredential, detail: detail,
            headers: [HeaderField(name: "Proxy-Authenticate", value: "Basic realm=\"agenthost\"")])
    }
}
