import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SecurityCore
import SecurityStore
import Testing

/// The router and the policy agree: every route the server registers is decided by a policy route
/// of its own, and every role the policy refuses is refused on the wire with 403.
struct RouteCoverageTests {
    /// Runs `body` over a fixture with every store and both webhook senders, so that every route
    /// exists; the store is closed after.
    static func withFullFixture(_ body: (HostFixture) async throws -> Void) async throws {
        let webhooks = WebhookVerifier.Provider.allCases.map {
            WebhookVerifier(provider: $0, secret: SecureBytes(copying: Array("s3cret-\($0)".utf8)))
        }
        let (fixture, store, _) = try await HostFixture.withAccounts(webhooks: webhooks, portal: PortalConfiguration())
        do {
            try await body(fixture)
        } catch {
            try await store.close()
            throw error
        }
        try await store.close()
    }

    /// The router's routes as (method, a concrete path): every `{parameter}` is `p1`.
    static func routes(of fixture: HostFixture) -> [(method: String, path: String, template: String)] {
        AgentHost.router(components: fixture.components).routes.map { route in
            let template = route.path.description
            let path = template.replacing(#/\{[^}]+\}/#, with: "p1")
            return (route.method.rawValue, path, template)
        }
    }

    /// Whether the pipeline serves `path` without asking the policy: public and self-authenticating
    /// paths (`/health`, the login, onboarding and webhook paths check their own credential).
    static func isUnguarded(_ path: String, _ fixture: HostFixture) -> Bool {
        let configuration = fixture.components.pipeline.configuration
        return configuration.publicPaths.contains(path) || configuration.selfAuthenticatingPaths.contains(path)
    }

    @Test func everyRouteHasAPolicyRouteOfItsOwn() async throws {
        try await Self.withFullFixture(everyRouteHasAPolicyRouteOfItsOwn)
    }

    func everyRouteHasAPolicyRouteOfItsOwn(_ fixture: HostFixture) throws {
        let routes = Self.routes(of: fixture)
        #expect(routes.count >= 25, "\(routes.count) routes")
        for (method, path, template) in routes where !Self.isUnguarded(path, fixture) {
            let decided = fixture.components.policy.route(method: method, path: path[...])
            let route = try #require(decided?.0, "\(method) \(template) has no policy route: add one to default-policy.yaml")
            // The catch-all routes are forward auth's, for the platform behind a proxy: a route of
            // our own that lands there is decided as upstream.read or upstream.write.
            #expect(!route.id.hasPrefix("upstream-"), "\(method) \(template) falls to the catch-all policy route \(route.id)")
        }
    }

    /// Every route a rate-limit scope names is a route of the router (or forward auth's
    /// `/auth/verify`, which the middleware answers): a pattern that matches none would be a limit
    /// that protects nothing.
    @Test func everyRateLimitRouteIsARoute() async throws {
        try await Self.withFullFixture(everyRateLimitRouteIsARoute)
    }

    func everyRateLimitRouteIsARoute(_ fixture: HostFixture) throws {
        let routes = Self.routes(of: fixture)
        for scope in RateLimitScope.agentHost {
            for pattern in scope.routes {
                #expect(
                    routes.contains { pattern.matches(method: $0.method, path: $0.path[...]) }
                        || pattern.matches(method: "GET", path: SecurityPipeline.forwardAuthPath[...]),
                    "scope \(scope.name): \(pattern) matches no route"
                )
            }
        }
    }

    /// A principal the policy refuses gets 403 on the wire, whatever the route; one it permits gets
    /// neither 403 nor a 5xx. Each built-in role is tried on every route, with an empty JSON body
    /// where one may be sent, as an agent that owns nothing the path names.
    @Test func everyRoleThePolicyRefusesGets403() async throws {
        try await Self.withFullFixture(everyRoleThePolicyRefusesGets403)
    }

    func everyRoleThePolicyRefusesGets403(_ fixture: HostFixture) async throws {
        let policy = fixture.components.policy
        let refusedSomewhere = try await fixture.application().test(.router) { client in
            var refused = Set<String>()
            for (method, path, template) in Self.routes(of: fixture) where !Self.isUnguarded(path, fixture) {
                for role in Policy.builtInRoles {
                    let minted = try fixture.token(agent: "probe-\(role)", role: role)
                    let decision = policy.decide(
                        PolicyRequest(
                            principal: PolicyPrincipal(agent: "probe-\(role)", role: role, team: "core"), method: method, path: path
                        ))
                    var headers: HTTPFields = [.authorization: "Bearer \(minted.token)"]
                    var body: ByteBuffer?
                    if method == "POST" || method == "PUT" {
                        headers[.contentType] = "application/json"
                        body = ByteBuffer(string: "{}")
                    }
                    let status = try await client.execute(
                        uri: path, method: HTTPRequest.Method(method)!, headers: headers, body: body
                    ) { $0.status.code }
                    if decision.isPermitted {
                        #expect(status != 403 && status < 500, "\(role) \(method) \(template): \(status), but the policy permits it")
                    } else {
                        refused.insert(role)
                        #expect(status == 403, "\(role) \(method) \(template): \(status), but the policy refuses it")
                    }
                }
            }
            return refused
        }
        #expect(refusedSomewhere.contains("viewer") && refusedSomewhere.contains("member"))
    }
}
