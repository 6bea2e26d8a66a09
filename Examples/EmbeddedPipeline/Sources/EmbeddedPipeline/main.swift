import Foundation
import Hummingbird
import SecurityCore

// Keys come from the environment; without them the server does not start (no default secret).
// EXAMPLE_TOKEN_KEY: 32 random bytes in base64url, such as `openssl rand 32 | basenc --base64url`.
// EXAMPLE_PARTNER_KEY: the partner key clients send in x-api-key, starting with pk_.
let environment = ProcessInfo.processInfo.environment
guard let encoded = environment["EXAMPLE_TOKEN_KEY"], let secret = Base64URL.decode(encoded), secret.count == 32,
    let partnerKey = environment["EXAMPLE_PARTNER_KEY"], partnerKey.hasPrefix("pk_"), partnerKey.utf8.count >= 24
else {
    FileHandle.standardError.write(
        Data("set EXAMPLE_TOKEN_KEY (32 bytes, base64url) and EXAMPLE_PARTNER_KEY (pk_…, 24+ characters)\n".utf8))
    exit(2)
}

let keyring = try Keyring(keys: [TokenKey(id: KeyID("k-example"), secret: SecureBytes(copying: secret), status: .primary)])
let tokens = try TokenPolicy(audience: "embedded-example", maximumLifetime: .seconds(86_400))
let policy = try PolicyLoader.load(
    yaml: """
        version: 1
        actions: [whoami.read]
        routes:
          - {method: GET, path: /whoami, action: whoami.read}
        rules:
          - {id: members, effect: permit, actions: [whoami.read], min_role: member}
        """, source: "inline policy")
let pipeline = SecurityPipeline(
    configuration: .init(
        verifier: TokenVerifier(keyring: keyring, policy: tokens, revocations: InMemoryRevocationList()),
        publicPaths: ["/health"],
        policy: policy,
        rateLimiter: RateLimiter(scopes: RateLimitScope.defaults),
        authenticators: [PartnerKeys(key: SecureBytes(copying: partnerKey.utf8), partner: try AgentID("partner-1"))],
        credentialLocations: CredentialLocations(namedHeaders: [.init(name: "x-api-key", routes: [RouteMatch("/whoami")!])])
    ))

let router = Router(context: ExampleContext.self)
router.add(middleware: PipelineMiddleware(pipeline: pipeline))
router.get("/health") { _, _ in "ok" }
router.get("/whoami") { _, context in context.principal?.id ?? "anonymous" }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8081)))
try await app.runService()
