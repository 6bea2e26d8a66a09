@testable import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SecurityCore
import Testing

/// Every error the server sends is problem+json: unknown routes, wrong methods, refusals a route
/// throws, and failures nobody planned for.
struct ProblemMiddlewareTests {
    @Test func anUnknownRouteIsA404Problem() async throws {
        let fixture = try HostFixture()
        let admin = try fixture.token(agent: "ops", role: "admin").token
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/nothing-here", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try json(response.body)
                #expect(body["code"] as? String == "not_found")
                #expect(body["status"] as? Int == 404)
                #expect(body["type"] as? String == "urn:agenthost:problem:not-found")
            }
        }
    }

    @Test func aWrongMethodIsA405NamingTheMethodsThePathTakes() async throws {
        let fixture = try HostFixture()
        let admin = try fixture.token(agent: "ops", role: "admin").token
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/whoami", method: .delete, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET")
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try json(response.body)
                #expect(body["code"] as? String == "method_not_allowed")
                #expect(body["allow"] as? [String] == ["GET"])
            }
            // A path with a parameter: PUT and DELETE are there, POST is not.
            try await client.execute(
                uri: "/api/projects/p1/git-token", method: .post, headers: [.authorization: "Bearer \(admin)"]
            ) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "DELETE, PUT")
            }
        }
    }

    @Test func aRefusalARouteThrowsAndAnUnplannedErrorAreProblems() async throws {
        struct Unplanned: Error, CustomStringConvertible {
            var description: String { "ghp_SecretInAnErrorDescription" }
        }
        let router = Router()
        let routes = RouteTable()
        router.add(middleware: ProblemMiddleware(routes: routes))
        router.get("/refused") { _, _ -> Response in throw HTTPRefusal(409, .exists, "It is there already.") }
        router.get("/broken") { _, _ -> Response in throw Unplanned() }
        router.get("/hummingbird") { _, _ -> Response in throw HTTPError(.unauthorized) }
        routes.install(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/refused", method: .get) { response in
                #expect(response.status == .conflict)
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try json(response.body)
                #expect(body["code"] as? String == "exists")
            }
            try await client.execute(uri: "/broken", method: .get) { response in
                #expect(response.status == .internalServerError)
                #expect(response.headers[.contentType] == "application/problem+json")
                let body = try json(response.body)
                #expect(body["code"] as? String == "internal_error")
                #expect(!String(buffer: response.body).contains("ghp_"))
            }
            try await client.execute(uri: "/hummingbird", method: .get) { response in
                #expect(response.status == .unauthorized)
                let body = try json(response.body)
                #expect(body["code"] as? String == "unauthorized")
            }
        }
    }

    /// The route table reads its routes as path templates, as every other path rule does.
    @Test(arguments: [
        ("/api/agents", "/api/agents", true), ("/api/projects/{project}/git-token", "/api/projects/p1/git-token", true),
        ("/api/projects/{project}", "/api/projects", false), ("/api/agents", "/api/agents/x", false),
        ("/files/**", "/files/a/b/c", true), ("/api/agents", "/api//agents/", true), ("/api/agents/{agent}", "/api/agents/..", false),
    ])
    func routeTemplatesMatchWholeSegments(template: String, path: String, matches: Bool) {
        let table = RouteTable()
        table.install([(method: "GET", path: template)])
        #expect(table.methods(for: path) == (matches ? ["GET"] : []))
    }
}
