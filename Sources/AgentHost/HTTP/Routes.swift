import HTTPTypes
import Hummingbird
import NIOCore
import SecurityCore

struct Health: ResponseEncodable {
    let status: String
}

extension AgentHost {
    /// Adds AgentHost's routes to `router`, behind ``SecurityMiddleware``: the one list of them.
    /// Each area adds its own (`Agents/`, `Credentials/`, `Accounts/`, `Audit/`, `Webhooks/`); a
    /// new route also needs a policy route of its own (RouteCoverageTests fails without one) and a
    /// place in Docs/openapi.yaml (OpenAPITests).
    static func addRoutes(to router: Router<AgentRequestContext>, components: Components) {
        router.add(middleware: SecurityMiddleware(components: components))
        router.get("/health") { _, _ in Health(status: "ok") }
        router.get(RouterPath(ReadinessCheck.path)) { _, _ in
            if let problem = await components.readiness?.problem() {
                throw HTTPRefusal(status: 503, code: .notReady, detail: problem, headers: [HeaderField(name: "Retry-After", value: "1")])
            }
            return Health(status: "ready")
        }
        router.get(RouterPath(OpenAPIDocument.path)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
            )
        }
        if components.configuration.identityAssertion != nil {
            // The public keys of X-Auth-Assertion: every key of the keyring in force, so a
            // platform that fetches them anew on an unknown `kid` follows a rotation.
            router.get(RouterPath(IdentityAssertions.jwksPath)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/jwk-set+json", .cacheControl: "public, max-age=300"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: components.assertions?.jwks ?? #"{"keys":[]}"#))
                )
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: components.metrics.exposition()))
            )
        }
        // Upgrades are answered by the WebSocket router (SystemStream); a plain GET learns it must ask for one.
        router.get(RouterPath(SystemStream.path)) { _, _ in SystemStream.upgradeRequired() }
        AgentRoutes(components: components).add(to: router)
        CredentialRoutes(components: components).add(to: router)
        RunRoutes(components: components).add(to: router)
        AccountRoutes(components: components).add(to: router)
        AuditRoutes(components: components).add(to: router)
        WebhookRoutes(components: components).add(to: router)
        ProxyRoutes(components: components).add(to: router)
        PortalRoutes(components: components).add(to: router)
        SessionRoutes(components: components).add(to: router)
    }
}
