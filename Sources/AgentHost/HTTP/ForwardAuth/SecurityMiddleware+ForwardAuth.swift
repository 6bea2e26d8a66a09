import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SecurityCore

extension SecurityMiddleware {
    /// `GET /auth/verify`: 200 with the verified identity headers (and `X-Auth-Assertion` when
    /// the signed identity is on), or the refusal. A browser's page load refused for want of a
    /// valid credential is sent to sign in instead, when the portal is on
    /// (``signInRedirect(_:portal:pipeline:)``).
    func forwardAuth(_ facts: RequestFacts, pipeline: SecurityPipeline, context: Context) async -> Response {
        switch pipeline.evaluateForwardAuth(facts) {
        case .allow(let principal, let headers):
            var response = Self.allowed(headers)
            if let principal, let assertions = currentAssertions() {
                do {
                    if let assertion = try await assertions.assertion(
                        for: principal, audience: Self.protectedHost(facts, pipeline: pipeline))
                    {
                        response.headers[IdentityAssertions.headerName] = assertion
                    }
                } catch {
                    // The answer goes without it: a platform that requires the assertion refuses
                    // the request, which is the safe side.
                    context.logger.error("cannot sign the identity assertion", metadata: ["error": "\(type(of: error))"])
                }
            }
            return response
        case .preflight(let headers):
            return Self.allowed(headers)
        case .deny(let refusal):
            log(refusal, facts, context)
            var response = SecurityResponses.response(for: refusal)
            if refusal.status == 401, let portal, let (location, nginx) = signInRedirect(facts, portal: portal, pipeline: pipeline) {
                // nginx's auth_request passes on only 401 and 403: it reads the target from
                // Location and redirects itself (error_page 401 =302). Caddy and Traefik pass on
                // what they get, so they get the redirect.
                if !nginx { response.status = .found }
                response.headers[.location] = location
            }
            return response
        }
    }

    /// `200`, never cached, with `headers`.
    static func allowed(_ headers: [HeaderField]) -> Response {
        var response = Response(status: .ok, headers: [.cacheControl: "no-store"])
        SecurityResponses.append(headers, to: &response.headers)
        return response
    }

    /// The host the original request was for, lower case and without its port: the host of
    /// nginx's `X-Original-URL` when it sends one, else `X-Forwarded-Host` (Caddy, Traefik), else
    /// the `Host` the proxy called with. Only a trusted proxy gets this far.
    static func protectedHost(_ facts: RequestFacts, pipeline: SecurityPipeline) -> String {
        if let full = facts.values(of: "x-original-url").first, let host = URLComponents(string: full)?.host {
            return host.lowercased()
        }
        let browser = BrowserRequest(
            fields: facts.fields, authority: nil, peer: facts.peerAddress, resolver: pipeline.configuration.clientAddresses)
        return browser.hostName.hasPrefix("[") ? String(browser.hostName.dropFirst().dropLast()) : browser.hostName
    }

    /// Where a browser refused at forward auth signs in: the portal's sign-in page with the URL it
    /// asked for as `rd`, and whether the proxy is nginx (it sent `X-Original-URI`). `nil` when
    /// the request is not a browser's page load (a script's fetch, a `POST`, an API client): those
    /// keep the `401`.
    func signInRedirect(_ facts: RequestFacts, portal: PortalConfiguration, pipeline: SecurityPipeline) -> (String, Bool)? {
        let browser = BrowserRequest(
            fields: facts.fields, authority: nil, peer: facts.peerAddress, resolver: pipeline.configuration.clientAddresses)
        guard browser.isNavigation else { return nil }
        let nginx = !facts.values(of: "x-original-uri").isEmpty
        let method = facts.values(of: nginx ? "x-original-method" : "x-forwarded-method").first ?? "GET"
        guard method == "GET" || method == "HEAD" else { return nil }
        let returnURL: String
        if let full = facts.values(of: "x-original-url").first, full.hasPrefix("https://") || full.hasPrefix("http://") {
            returnURL = full
        } else {
            guard let uri = facts.values(of: nginx ? "x-original-uri" : "x-forwarded-uri").first, uri.hasPrefix("/"), !browser.host.isEmpty
            else { return nil }
            returnURL = browser.origin + uri
        }
        let base = portal.publicURL ?? (browser.host.isEmpty ? "" : browser.origin)
        return (base + PortalRoutes.signInPath + "?rd=" + FormBody.encode(returnURL), nginx)
    }
}
