import Foundation
import HTTPTypes
import Hummingbird
import SecurityCore

/// A request as a browser made it: the scheme and host it used (believed from
/// `X-Forwarded-Proto` / `X-Forwarded-Host` only when a trusted proxy relays it), its cookies,
/// and where it came from.
struct BrowserRequest {
    let fields: HTTPFields
    let peer: String?
    /// `https` or `http`, as the browser used it.
    let scheme: String
    /// The host (and port, if any) the browser used, lower case.
    let host: String
    /// The client's address, for records and budgets.
    let client: IPAddress?

    init(_ request: Request, peer: String?, resolver: ClientAddressResolver) {
        self.init(fields: request.headers, authority: request.head.authority, peer: peer, resolver: resolver)
    }

    init(fields: HTTPFields, authority: String?, peer: String?, resolver: ClientAddressResolver) {
        self.fields = fields
        self.peer = peer
        let relayed = resolver.isTrustedProxy(peer: peer)
        func forwarded(_ name: String) -> String? {
            guard relayed, let name = HTTPField.Name(name), let value = fields[values: name].first else { return nil }
            // A proxy chain may list several: the first is what the browser used.
            let first = value.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return first.isEmpty ? nil : first.lowercased()
        }
        scheme = forwarded("x-forwarded-proto") == "https" ? "https" : "http"
        host = (forwarded("x-forwarded-host") ?? authority ?? HTTPField.Name("host").flatMap { fields[$0] } ?? "").lowercased()
        client = resolver.clientAddress(peer: peer, fields: fields)
    }

    /// `scheme://host`.
    var origin: String { scheme + "://" + host }

    /// The host without its port.
    var hostName: String {
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") { return String(host[...end]) }
        return String(host.split(separator: ":", maxSplits: 1).first ?? "")
    }

    /// Whether a session cookie may be set on this request: over https, or for a loopback host,
    /// which browsers treat as secure. Never over plain http to anything else.
    var mayHoldCookie: Bool {
        scheme == "https" || AgentHostConfiguration.isLoopback(hostName)
    }

    /// The first value of header `name`.
    func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { fields[values: $0].first }
    }

    /// The cookie called `name`.
    func cookie(_ name: String) -> CookieHeader.Lookup {
        CookieHeader.value(named: name, in: fields[values: .cookie])
    }

    /// The `User-Agent`, cut to what a session record keeps.
    var userAgent: String {
        String((header("user-agent") ?? "").prefix(BrowserSessionRecord.maximumUserAgentLength))
    }

    /// Whether a form post comes from the portal's own pages: `Sec-Fetch-Site`, when the browser
    /// sends it, says `same-origin`, and `Origin`, when sent, is this origin or `publicURL`'s.
    /// A cross-site `<form>` fails the first (and the second, for browsers without the first).
    func isSameOrigin(publicURL: String?) -> Bool {
        let site = header("sec-fetch-site")?.lowercased()
        if let site, site != "same-origin" { return false }
        if let origin = header("origin")?.lowercased() {
            // `null` hides the origin (a sandboxed frame, a strict referrer policy): only the
            // browser's own word that the post is same-origin then lets it through.
            if origin == "null" { return site == "same-origin" }
            return origin == self.origin || origin == publicURL?.lowercased()
        }
        return true
    }

    /// Whether the request is a browser's navigation to a page (not a script's fetch): what gets a
    /// redirect to sign in rather than a `401`.
    var isNavigation: Bool {
        if let mode = header("sec-fetch-mode") { return mode.lowercased() == "navigate" }
        guard header("x-requested-with") == nil, let accept = header("accept") else { return false }
        return accept.lowercased().contains("text/html")
    }
}
