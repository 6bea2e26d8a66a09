import AgentHost
@testable import AgentHostCommand
import ArgumentParser
import Foundation
import SecurityCore
import Testing

struct CommandTests {
    let policy = try! TokenPolicy()

    @Test func mintRotateRetire() throws {
        let directory = try TemporaryDirectory()
        let clock = ManualTimeSource(1_800_000_000)
        let mint = {
            try AgentHostCLI.mint(
                agent: AgentID("builder-7"), role: Role("developer"), team: Team("core"), lifetime: .seconds(3600),
                policy: policy, dataDirectory: directory.path, environment: [:], clock: clock
            )
        }
        // No keys: a clear error, and nothing created.
        let missing = #expect(throws: AgentHostError.self) { try mint() }
        #expect(missing?.message.contains("AGENTHOST_TOKEN_KEY") == true)
        #expect(!KeyringFile(dataDirectory: directory.path).exists)

        let first = try AgentHostCLI.initializeKeyring(dataDirectory: directory.path, clock: clock)
        #expect(throws: AgentHostError.self) { try AgentHostCLI.initializeKeyring(dataDirectory: directory.path) }
        let oldToken = try mint()
        #expect(oldToken.claims.keyID == first)

        let second = try AgentHostCLI.rotate(dataDirectory: directory.path, environment: [:], clock: clock)
        let newToken = try mint()
        #expect(newToken.claims.keyID == second && second != first)
        var verifier = TokenVerifier(keyring: try KeyringFile(dataDirectory: directory.path).load(), policy: policy, clock: clock)
        #expect(throws: Never.self) { try verifier.verify(oldToken.token) }

        // The primary key cannot be retired.
        let refused = #expect(throws: TokenError.self) { try AgentHostCLI.retire(second, dataDirectory: directory.path, environment: [:]) }
        #expect(refused?.code == .invalidKeyring)
        try AgentHostCLI.retire(first, dataDirectory: directory.path, environment: [:])
        verifier = TokenVerifier(keyring: try KeyringFile(dataDirectory: directory.path).load(), policy: policy, clock: clock)
        #expect(throws: TokenError.self) { try verifier.verify(oldToken.token) }
        #expect(throws: Never.self) { try verifier.verify(newToken.token) }
        #expect(try permissions(of: KeyringFile(dataDirectory: directory.path).path) == 0o600)
    }

    @Test func keyCommandsRefuseEnvironmentKeys() throws {
        let directory = try TemporaryDirectory()
        let environment = [KeySource.primaryVariable: "k-env:" + Base64URL.encode([UInt8](repeating: 1, count: 32))]
        #expect(throws: AgentHostError.self) { try AgentHostCLI.rotate(dataDirectory: directory.path, environment: environment) }
    }

    @Test(arguments: [
        ["token", "mint", "--agent", "bad id", "--role", "dev"],
        ["token", "mint", "--agent", "a", "--role", "dev:admin"],
        ["token", "mint", "--agent", "a", "--role", "dev", "--team", "é"],
        ["token", "mint", "--agent", "a", "--role", "dev", "--ttl", "soon"],
        ["token", "mint", "--role", "dev"],
        ["serve", "--port", "notaport"],
    ])
    func invalidArgumentsAreRefused(arguments: [String]) {
        #expect(throws: (any Error).self) { try AgentHostCommand.parseAsRoot(arguments) }
    }

    @Test func validArgumentsParse() throws {
        let command = try AgentHostCommand.parseAsRoot(["token", "mint", "--agent", "a", "--role", "dev", "--ttl", "1h30m"])
        #expect(command is Token.Mint)
    }

    @Test func headerTrustStaysOnLoopbackUnlessAllowed() throws {
        var configuration = AgentHostConfiguration(host: "0.0.0.0", mode: .headerTrust, tokenPolicy: policy)
        let error = #expect(throws: AgentHostError.self) { try configuration.validate() }
        #expect(error?.message.contains("--allow-untrusted-network") == true)
        configuration.allowUntrustedNetwork = true
        #expect(throws: Never.self) { try configuration.validate() }
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] {
            #expect(throws: Never.self) { try AgentHostConfiguration(host: host, mode: .headerTrust, tokenPolicy: policy).validate() }
        }
        for host in ["0.0.0.0", "192.168.1.10", "::", "example.com", "127.0.0.1.evil.com", "1270.0.0.1"] {
            #expect(!AgentHostConfiguration.isLoopback(host), "\(host)")
        }
        #expect(throws: Never.self) { try AgentHostConfiguration(host: "0.0.0.0", mode: .secure, tokenPolicy: policy).validate() }
    }

    /// AgentHost's scopes are what Docs/OPERATING.md says they are.
    @Test func agentHostsRateLimitScopesAreTheDocumentedOnes() {
        let scopes = RateLimitScope.agentHost
        #expect(scopes.map(\.name) == ["general", "sensitive", "auth-failures", "login-failures"])
        #expect(scopes.map(\.routes.count) == [3, 7, 0, 4])
        #expect(scopes.map(\.limit) == [100, 20, 10, 10])
        #expect(scopes.map(\.key) == [.client, .client, .client, .principal])
        #expect(
            scopes.map { $0.routes.map(\.description) } == [
                ["/api/**", "/v1/**", "/auth/**"],
                [
                    "POST /api/agents", "POST /api/runs", "/api/tokens/**", "/api/credentials/**", "POST /api/login", "POST /auth/sign-in",
                    "POST /auth/passkeys/sign-in",
                ],
                [], ["POST /api/login", "POST /auth/sign-in", "POST /auth/second-factor", "POST /auth/passkeys/sign-in"],
            ])
    }

    @Test func rateLimitsCanBeChangedScopeByScope() throws {
        let scopes = try AgentHostConfiguration.rateLimitScopes(
            RateLimitScope.agentHost, overriddenBy: ["general=600/1m", "auth-failures=20/30s/40"]
        )
        let general = try #require(scopes.first(where: { $0.name == "general" }))
        #expect(general.limit == 600 && general.period == .seconds(60) && general.burst == 600)
        #expect(general.routes == RateLimitScope.agentHost[0].routes && general.key == .client)
        let failures = try #require(scopes.first(where: { $0.name == "auth-failures" }))
        #expect(
            failures.limit == 20 && failures.period == .seconds(30) && failures.burst == 40 && failures.counts == .authenticationFailures)
        #expect(scopes.first { $0.name == "sensitive" } == RateLimitScope.agentHost[1])
        for bad in [
            "general", "general=600", "general=x/1m", "general=600/1x", "general=600/1m/x", "nope=1/1m", "general=0/1m", "general=600/2d",
        ] {
            #expect(throws: AgentHostError.self, "\(bad)") {
                try AgentHostConfiguration.rateLimitScopes(RateLimitScope.agentHost, overriddenBy: [bad])
            }
        }
        // serve's options are checked with the file and the variables (ServeSettingsTests); these parse.
        let serve = try #require(
            try AgentHostCommand.parseAsRoot(["serve", "--rate-limit", "general=100000/1m", "--no-metrics-public"]) as? Serve)
        let given = try serve.commandLine()
        #expect(given.values["rate_limit"]?.items == ["general=100000/1m"] && given.values["metrics_public"]?.items == ["false"])
        #expect(given.values["port"] == nil, "an option not given leaves the file's or the default")
        let bad = try #require(try AgentHostCommand.parseAsRoot(["serve", "--rate-limit", "nope=1/1m"]) as? Serve)
        let error = #expect(throws: AgentHostError.self) { try ServeSettings.defaults.overlaid(by: bad.commandLine()).resolve() }
        #expect(error?.reason.hasPrefix("--rate-limit: there is no scope 'nope'") == true)
    }

    @Test func durations() throws {
        #expect(try DurationParser.parse("90s") == .seconds(90))
        #expect(try DurationParser.parse("15m") == .seconds(900))
        #expect(try DurationParser.parse("12h") == .seconds(43_200))
        #expect(try DurationParser.parse("7d") == .seconds(604_800))
        #expect(try DurationParser.parse("1h30m") == .seconds(5400))
        #expect(try DurationParser.parse("45") == .seconds(45))
        for bad in ["", "h", "1x", "-5m", "1.5h", "99999999999999999999d", "１h"] {
            #expect(throws: AgentHostError.self, "\(bad)") { try DurationParser.parse(bad) }
        }
    }
}
