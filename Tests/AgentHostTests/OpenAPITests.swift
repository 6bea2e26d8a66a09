import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SecurityCore
import SecurityStore
import Testing

/// Docs/openapi.yaml and the server hold each other: every route is documented, every documented
/// route exists, each operation names the policy action that decides it, and the server serves
/// the document it was built with.
struct OpenAPITests {
    /// Operations the security middleware answers before the router: forward auth.
    static let answeredByTheMiddleware: Set<String> = ["GET /auth/verify", "HEAD /auth/verify"]

    static func document() throws -> JSONValue {
        try JSONValue.parse(Array(OpenAPIDocument.json.utf8))
    }

    /// Every operation as "METHOD /path/{param}", with its `x-agenthost-action`.
    static func operations(_ document: JSONValue) throws -> [String: String?] {
        guard case .object(let paths)? = document["paths"] else { throw OpenAPIError("no paths") }
        var operations = [String: String?]()
        for (path, item) in paths {
            guard case .object(let members) = item else { throw OpenAPIError("\(path) is not an object") }
            for (method, operation) in members where method != "parameters" {
                operations[method.uppercased() + " " + path] = operation["x-agenthost-action"]?.stringValue
            }
        }
        return operations
    }

    struct OpenAPIError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func theDocumentIsTheOneInDocsAndConvertsToJSON() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Docs/openapi.yaml")
        #expect(try String(contentsOf: docs, encoding: .utf8) == OpenAPIDocument.yaml)
        let document = try Self.document()
        #expect(document["openapi"]?.stringValue == "3.1.0")
        #expect(try Self.operations(document).count >= 28)
        // The anchor for the rate-limit headers was expanded.
        let whoami = document["paths"]?["/api/whoami"]?["get"]?["responses"]?["200"]?["headers"]
        #expect(whoami?["X-RateLimit-Remaining"] != nil && whoami?["RateLimit-Policy"] != nil)
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let webhooks = WebhookVerifier.Provider.allCases.map {
            WebhookVerifier(provider: $0, secret: SecureBytes(copying: Array("s3cret-\($0)".utf8)))
        }
        let (fixture, store, _) = try await HostFixture.withAccounts(
            webhooks: webhooks, portal: PortalConfiguration(), assertion: IdentityAssertionConfiguration(),
            oidcProviders: [
                OIDCProviderConfiguration(name: "example", issuer: "https://id.example.com", clientID: "c", defaultRole: try Role("viewer"))
            ])
        let routes = Set(AgentHost.router(components: fixture.components).routes.map { "\($0.method.rawValue) \($0.path.description)" })
        let documented = try Self.operations(try Self.document())
        let served = routes.union(Self.answeredByTheMiddleware)
        for route in served.subtracting(documented.keys).sorted() {
            Issue.record("\(route) is served but not in Docs/openapi.yaml")
        }
        for operation in Set(documented.keys).subtracting(served).sorted() {
            Issue.record("\(operation) is in Docs/openapi.yaml but the server has no such route")
        }
        // Each operation's x-agenthost-action is the action the policy decides it as.
        let policy = fixture.components.policy
        for (operation, action) in documented {
            guard let action, !action.hasPrefix("the original") else { continue }
            let parts = operation.split(separator: " ", maxSplits: 1)
            let path = String(parts[1]).replacing(#/\{[^}]+\}/#, with: "p1")
            #expect(policy.route(method: String(parts[0]), path: path[...])?.0.action == action, "\(operation)")
        }
        try await store.close()
    }

    @Test func theServerServesItWithoutACredential() async throws {
        let fixture = try HostFixture()
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == OpenAPIDocument.json)
            }
        }
    }

    /// The `Problem` schema's `code` enum is ``ProblemCode``, both ways: a code the server can send
    /// is documented, and a documented code is one the server knows.
    @Test func everyProblemCodeIsDocumentedAndEveryDocumentedCodeExists() throws {
        guard case .array(let listed)? = try Self.document()["components"]?["schemas"]?["Problem"]?["properties"]?["code"]?["enum"] else {
            throw OpenAPIError("the Problem schema's code has no enum")
        }
        let documented = Set(listed.compactMap(\.stringValue))
        #expect(documented.count == listed.count, "a code is listed twice, or is not a string")
        let known = Set(ProblemCode.allCases.map(\.rawValue))
        for code in known.subtracting(documented).sorted() { Issue.record("\(code) is a ProblemCode but not in Docs/openapi.yaml") }
        for code in documented.subtracting(known).sorted() { Issue.record("\(code) is in Docs/openapi.yaml but not a ProblemCode") }
        #expect(known == documented)
    }
}
