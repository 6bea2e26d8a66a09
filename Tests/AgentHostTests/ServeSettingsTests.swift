@testable import AgentHost
import Foundation
import Logging
import SecurityCore
import Synchronization
import Testing

/// `serve --config FILE`, the variables and the options: precedence, errors that name their place,
/// `config check`, and the reload SIGHUP runs.
struct ServeSettingsTests {
    func write(_ text: String, to directory: TemporaryDirectory, name: String = "agenthost.yaml") throws -> String {
        let path = directory.path + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func optionsWinOverVariablesOverTheFileOverTheDefaults() throws {
        let directory = try TemporaryDirectory()
        let file = try write(
            """
            # a comment
            port: 9001
            host: 127.0.0.2
            log_level: debug
            trusted_proxy: [10.0.0.0/8, 192.168.0.0/16]
            rate_limit:
              - general=600/1m
            data_dir: state
            """, to: directory)
        let source = ServeSettings.Source(
            configFile: file, environment: ["AGENTHOST_PORT": "9002", "AGENTHOST_TRUSTED_PROXY": "172.16.0.0/12", "AGENTHOST_HOST": ""],
            commandLine: try ServeSettings(["port": ["9003"]], origin: .commandLine)
        )
        let settings = try source.load()
        #expect(settings.values["port"] == .init(items: ["9003"], origin: .commandLine))
        #expect(settings.values["host"] == .init(items: ["127.0.0.2"], origin: .file(path: file, line: 3)), "an empty variable is unset")
        #expect(settings.values["trusted_proxy"] == .init(items: ["172.16.0.0/12"], origin: .environment("AGENTHOST_TRUSTED_PROXY")))
        #expect(settings.values["mode"]?.origin == .defaultValue)
        #expect(settings.values["rate_limit"]?.origin == .file(path: file, line: 6))
        let resolved = try settings.resolve()
        #expect(resolved.configuration.port == 9003)
        #expect(resolved.configuration.host == "127.0.0.2")
        #expect(resolved.logLevel == .debug)
        #expect(resolved.configuration.trustedProxies.map(\.description) == ["172.16.0.0/12"])
        #expect(resolved.configuration.rateLimitScopes.first { $0.name == "general" }?.limit == 600)
        #expect(resolved.configuration.dataDirectory == directory.path + "/state", "a relative path is read from the file's folder")
        #expect(resolved.configuration.connectionLimits == ConnectionLimits())
        #expect(resolved.configuration.tokenPolicy.maximumLifetime == 7 * 86_400)

        // Without a file the defaults are exactly what serve used before configuration files.
        let plain = try ServeSettings.Source(configFile: nil, environment: [:]).load().resolve()
        #expect(plain.configuration.host == "127.0.0.1" && plain.configuration.port == 8080 && plain.configuration.mode == .secure)
        #expect(plain.configuration.dataDirectory == ".agenthost" && plain.configuration.policy == nil && plain.logLevel == .info)
        #expect(plain.configuration.rateLimitScopes == RateLimitScope.agentHost)
        // AGENTHOST_CONFIG names the file when --config does not.
        #expect(ServeSettings.Source(configFile: nil, environment: ["AGENTHOST_CONFIG": file]).file == file)
    }

    /// A file that cannot be used is refused with the line of the setting, before anything starts.
    @Test(arguments: [
        ("port: 80\nprot: 81\n", ":2: unknown setting 'prot'"),
        ("port: 80\nport: 81\n", ":2: port is set twice"),
        ("host: [a, b]\n", ":1: host takes one value, not a list"),
        ("rate_limit: {general: 1/1m}\n", ":1: rate_limit takes a list of values, not a mapping"),
        ("policy:\n", ":1: policy has no value"),
        ("- port\n", ":1: expected a mapping of setting: value"),
        ("port: [\n", "not valid YAML"),
    ])
    func aMalformedFileIsRefusedWithItsLine(text: String, expected: String) throws {
        let directory = try TemporaryDirectory()
        let file = try write(text, to: directory)
        let error = #expect(throws: AgentHostError.self) { try ServeSettings(file: file) }
        #expect(error?.reason.hasPrefix(file) == true, "\(error?.reason ?? "")")
        #expect(error?.reason.contains(expected) == true, "\(error?.reason ?? "")")
    }

    /// A value that parses but is wrong names its place: the file and line, the variable, or the option.
    @Test func aBadValueNamesWhereItCameFrom() throws {
        let directory = try TemporaryDirectory()
        let file = try write("host: 127.0.0.1\n\nport: 70000\n", to: directory)
        func reason(_ source: ServeSettings.Source) -> String {
            (#expect(throws: AgentHostError.self) { try source.load().resolve() })?.reason ?? ""
        }
        #expect(reason(.init(configFile: file, environment: [:])) == "\(file):3: port: '70000' is not a whole number from 0 to 65535")
        #expect(
            reason(.init(configFile: nil, environment: ["AGENTHOST_MODE": "open"]))
                == "AGENTHOST_MODE: 'open' is not secure or header-trust")
        let options = try ServeSettings(["rate_limit": ["general=600/1m", "nope=1/1m"]], origin: .commandLine)
        #expect(reason(.init(configFile: nil, environment: [:], commandLine: options)).hasPrefix("--rate-limit: there is no scope 'nope'"))
        for (name, value) in [
            ("max_ttl", "soon"), ("trusted_proxy", "10.0.0.1/8"), ("cors_origin", "ftp://x"), ("database", "mysql://x"),
            ("metrics_public", "yes"), ("head_timeout", "0s"), ("max_connections", "0"), ("log_level", "loud"), ("policy", "/nonexistent"),
            ("otlp_endpoint", "collector:4318"), ("otlp_endpoint", "grpc://127.0.0.1:4317"), ("otlp_endpoint", "https://u:p@otel.example"),
        ] {
            let given = try ServeSettings([name: [value]], origin: .commandLine)
            let text = reason(.init(configFile: nil, environment: [:], commandLine: given))
            #expect(text.hasPrefix(ServeSettings.key(name)!.option + ": "), "\(name): \(text)")
        }
        #expect(throws: AgentHostError.self) { try ServeSettings(["prot": ["1"]], origin: .commandLine) }
        // The portal's settings, each named where it came from.
        for (name, value) in [
            ("cookie_domain", "10.0.0.1"), ("cookie_domain", "localhost"), ("cookie_domain", "com"), ("session_lifetime", "60d"),
            ("portal_url", "https://auth.example.com/path"), ("home_url", "javascript:alert(1)"),
            ("protected_host", "https://app.example.com"),
        ] {
            let given = try ServeSettings([name: [value], "portal": ["true"]], origin: .commandLine)
            let text = reason(.init(configFile: nil, environment: [:], commandLine: given))
            #expect(text.hasPrefix(ServeSettings.key(name)!.option + ": "), "\(name): \(text)")
        }
        let portal = try ServeSettings(
            ["portal": ["true"], "cookie_domain": [".Example.com"], "protected_host": ["grafana", "10.0.0.7", "app.example.com"]],
            origin: .commandLine)
        let resolved = try ServeSettings.defaults.overlaid(by: portal).resolve().configuration.portal
        let cookieName = try resolved?.sessionCookie().name
        #expect(resolved?.cookieDomain == ".Example.com" && cookieName == "__Secure-agenthost_session")
        #expect(resolved?.idleTimeout == .seconds(1_800) && resolved?.lifetime == .seconds(43_200))
        #expect(try ServeSettings.defaults.resolve().configuration.portal == nil, "off by default")
        // A portal never sets its cookie in the clear: off loopback it needs a proxy that terminates TLS.
        let exposed = try ServeSettings(["portal": ["true"], "host": ["0.0.0.0"]], origin: .commandLine)
        #expect(reason(.init(configFile: nil, environment: [:], commandLine: exposed)).contains("trusted_proxy"))
        let proxied = try ServeSettings(["portal": ["true"], "host": ["0.0.0.0"], "trusted_proxy": ["10.0.0.2"]], origin: .commandLine)
        #expect(throws: Never.self) { try ServeSettings.defaults.overlaid(by: proxied).resolve() }
        // Combinations are checked too: header-trust stays on loopback unless allowed.
        let headerTrust = try ServeSettings(["mode": ["header-trust"], "host": ["0.0.0.0"]], origin: .commandLine)
        #expect(reason(.init(configFile: nil, environment: [:], commandLine: headerTrust)).contains("allow-untrusted-network"))
    }

    /// An OTLP endpoint turns tracing on; a password in it never reaches an error message.
    @Test func anOTLPEndpointTurnsTracingOn() throws {
        let unset = try ServeSettings.Source(configFile: nil, environment: [:]).load().resolve()
        #expect(unset.otlpEndpoint == nil && !unset.configuration.tracing)
        let set = try ServeSettings.Source(configFile: nil, environment: ["AGENTHOST_OTLP_ENDPOINT": "http://127.0.0.1:4318/"]).load()
            .resolve()
        #expect(set.otlpEndpoint == "http://127.0.0.1:4318" && set.configuration.tracing)
        let given = try ServeSettings(["otlp_endpoint": ["https://user:hunter2@otel.example"]], origin: .commandLine)
        let error = #expect(throws: AgentHostError.self) {
            try ServeSettings.Source(configFile: nil, environment: [:], commandLine: given).load().resolve()
        }
        #expect(error?.reason.contains("hunter2") == false, "\(error?.reason ?? "")")
    }

    @Test func aPolicyPathInTheFileIsReadFromTheFilesFolder() throws {
        let directory = try TemporaryDirectory()
        try DefaultPolicy.text.write(toFile: directory.path + "/policy.yaml", atomically: true, encoding: .utf8)
        let file = try write("policy: policy.yaml\n", to: directory)
        let resolved = try ServeSettings.Source(configFile: file, environment: [:]).load().resolve()
        #expect(resolved.configuration.policyFile == directory.path + "/policy.yaml")
        #expect(resolved.configuration.policy?.rules.count == (try DefaultPolicy.load()).rules.count)
    }

    /// `config check` prints a file that reads back to the same settings, a password redacted, and
    /// warns when a file that holds a password is readable by others.
    @Test func checkPrintsAFileThatReadsBackWithThePasswordRedacted() throws {
        let directory = try TemporaryDirectory()
        let file = try write(
            "port: 9100\ncors_origin: [\"https://app.example\"]\ndatabase: postgres://app:hunter2-secret@db.internal/agenthost\n",
            to: directory)
        chmod(file, 0o644)
        let report = AgentHostCLI.checkConfiguration(file: file, environment: ["AGENTHOST_MAX_TTL": "2d"])
        #expect(report.valid)
        let text = report.lines.joined(separator: "\n")
        #expect(!text.contains("hunter2"))
        #expect(text.contains("postgres://app:REDACTED@db.internal/agenthost"))
        #expect(text.contains("port: \"9100\"") && text.contains("# \(file):1"))
        #expect(text.contains("max_ttl: \"2d\"") && text.contains("# AGENTHOST_MAX_TTL"))
        #expect(text.contains("# policy: not set"))
        #expect(report.problems.contains { $0.contains("chmod 600") })
        chmod(file, 0o600)
        #expect(AgentHostCLI.checkConfiguration(file: file, environment: [:]).problems.isEmpty)

        let echoed = try write(text, to: directory, name: "echoed.yaml")
        let again = try ServeSettings.Source(configFile: echoed, environment: [:]).load().resolve().configuration
        #expect(again.port == 9100 && again.corsOrigins == ["https://app.example"] && again.tokenPolicy.maximumLifetime == 2 * 86_400)

        let broken = try write("port: 9100\nmax_connections: lots\n", to: directory, name: "broken.yaml")
        let refused = AgentHostCLI.checkConfiguration(file: broken, environment: [:])
        #expect(!refused.valid)
        #expect(refused.problems == ["invalid: \(broken):2: max_connections: 'lots' is not a whole number from 1 to 1000000"])
        #expect(!AgentHostCLI.checkConfiguration(file: directory.path + "/missing.yaml", environment: [:]).valid)
    }

    /// A reload replaces the keyring, the policy and the rate limits for the next request; a
    /// reload that fails changes nothing.
    @Test func aReloadPutsNewKeysPolicyAndLimitsInForceAndABadOneChangesNothing() throws {
        let directory = try TemporaryDirectory()
        let file = KeyringFile(dataDirectory: directory.path)
        let first = try TokenKey.generate(status: .primary, now: 1)
        try file.save(try Keyring(keys: [first]))
        var configuration = AgentHostConfiguration(dataDirectory: directory.path, tokenPolicy: try TokenPolicy())
        let components = try AgentHost.Components(configuration: configuration, keyring: try Keyring(keys: [first]))
        let oldToken = try components.minter.mint(agent: try AgentID("a"), role: try Role("admin")).token

        let second = try TokenKey.generate(status: .primary, now: 2)
        try file.save(try Keyring(keys: [try TokenKey(id: first.id, secret: first.secret, status: .verifyOnly, createdAt: 1), second]))
        configuration.policy = try PolicyLoader.load(
            yaml: """
                version: 1
                actions: [noop]
                routes:
                  - {method: GET, path: /noop, action: noop}
                rules:
                  - {id: all, effect: permit, actions: [noop]}
                """, source: "small.yaml"
        )
        configuration.rateLimitScopes = try AgentHostConfiguration.rateLimitScopes(RateLimitScope.agentHost, overriddenBy: ["general=7/1m"])
        let next = configuration
        let failing = Mutex(false)
        let service = ReloadService(
            components: components, running: configuration,
            readConfiguration: {
                if failing.withLock({ $0 }) { throw AgentHostError(.configuration, "broken.yaml:1: nope") }
                return next
            },
            environment: [:], redactor: SecretRedactor(), logger: Logger(label: "test")
        )
        #expect(service.reload())
        #expect(components.minter.keyring.primary?.id == second.id)
        #expect(components.policy.routes.map(\.action) == ["noop"])
        #expect(components.pipeline.configuration.rateLimiter?.scopes.first { $0.name == "general" }?.limit == 7)
        #expect(throws: Never.self, "a token of the old primary still verifies") {
            try components.pipeline.configuration.verifier.verify(oldToken)
        }

        failing.withLock { $0 = true }
        #expect(!service.reload())
        #expect(components.minter.keyring.primary?.id == second.id)
        #expect(components.policy.routes.map(\.action) == ["noop"])
        failing.withLock { $0 = false }
        try "not a keyring".write(toFile: file.path, atomically: true, encoding: .utf8)
        #expect(!service.reload(), "a keyring file that does not parse is refused")
        #expect(components.minter.keyring.primary?.id == second.id)
        #expect(
            ReloadService.restartOnlyChanges(
                from: configuration,
                to: {
                    var c = configuration
                    c.port = 1
                    return c
                }()) == ["port"])
    }
}

/// The file's `oidc_providers:` mapping.
struct OIDCProviderSettingsTests {
    @Test func providersAreReadCheckedAndShown() throws {
        let directory = try TemporaryDirectory()
        let file = try ServeSettingsTests().write(
            """
            portal: true
            oidc_providers:
              google:
                issuer: https://accounts.google.com
                client_id: 1234-abc.apps.googleusercontent.com
                allowed_domains: [Example.com]
                default_role: member
              keycloak:
                issuer: https://id.example.com/realms/staff
                client_id: agenthost
                label: Staff
                role_claim: groups
                roles: {platform-admins: admin, engineering: member}
                create_users: false
                clock_skew: 30s
            """, to: directory)
        let settings = ServeSettings.defaults.overlaid(by: try ServeSettings(file: file))
        let providers = try settings.resolve().configuration.oidcProviders
        #expect(providers.map(\.name) == ["google", "keycloak"])
        #expect(providers[0].allowedDomains == ["example.com"] && providers[0].defaultRole?.rawValue == "member")
        #expect(providers[0].label == "Sign in with google" && providers[0].scopes == ["openid", "email", "profile"])
        #expect(providers[1].roles["platform-admins"]?.rawValue == "admin" && providers[1].createUsers == false)
        #expect(providers[1].clockSkew == .seconds(30) && providers[1].label == "Staff")
        let shown = settings.rendered().joined(separator: "\n")
        #expect(shown.contains("oidc_providers:\n  google:") && shown.contains(#"client_id: "agenthost""#))
    }

    @Test(arguments: [
        ("client_secret: hunter2", "agenthost oidc set-secret google"),
        ("default_role: member\n    colour: blue", "unknown key 'colour'"),
        ("roles: {x: not a role}", "is not a role"),
        ("clock_skew: 10m", "clock_skew"),
    ])
    func mistakesAreNamedWithTheirLine(extra: String, message: String) throws {
        let directory = try TemporaryDirectory()
        let file = try ServeSettingsTests().write(
            """
            portal: true
            oidc_providers:
              google:
                issuer: https://accounts.google.com
                client_id: c
                \(extra)
            """, to: directory)
        let error = #expect(throws: AgentHostError.self) {
            try ServeSettings.defaults.overlaid(by: try ServeSettings(file: file)).resolve()
        }
        #expect(error?.reason.contains(message) == true, "\(error?.reason ?? "")")
        #expect(error?.reason.contains("agenthost.yaml:") == true)
    }

    @Test func providersNeedThePortalAndSomeoneMustBeAbleToSignIn() throws {
        let directory = try TemporaryDirectory()
        let noPortal = try ServeSettingsTests().write(
            "oidc_providers:\n  google:\n    issuer: https://accounts.google.com\n    client_id: c\n    default_role: member\n",
            to: directory)
        #expect(throws: AgentHostError.self) { try ServeSettings.defaults.overlaid(by: try ServeSettings(file: noPortal)).resolve() }
        let nobody = try ServeSettingsTests().write("portal: true\npassword_sign_in: false\n", to: directory, name: "nobody.yaml")
        #expect(throws: AgentHostError.self) { try ServeSettings.defaults.overlaid(by: try ServeSettings(file: nobody)).resolve() }
    }
}
