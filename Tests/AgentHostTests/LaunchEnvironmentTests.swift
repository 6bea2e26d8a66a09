import Testing

@testable import AgentHost

/// The environment `agenthost run` gives its command.
struct LaunchEnvironmentTests {
    static let upstreams = [
        LaunchEnvironment.Upstream(
            name: "anthropic", path: "/proxy/anthropic/",
            environment: ["ANTHROPIC_BASE_URL": "{proxy}", "ANTHROPIC_API_KEY": "{token}"], git: false),
        LaunchEnvironment.Upstream(
            name: "openai", path: "/proxy/openai/", environment: ["OPENAI_BASE_URL": "{proxy}/v1", "OPENAI_API_KEY": "{token}"],
            git: false),
        LaunchEnvironment.Upstream(name: "gitlab", path: "/proxy/gitlab/", environment: [:], git: true),
    ]

    static func build(caller: [String: String] = [:], passed: [String] = []) -> [String: String] {
        LaunchEnvironment.build(
            caller: caller, passed: passed, agentURL: "http://127.0.0.1:8080", lease: "ah1.LEASE", runID: "r1", upstreams: upstreams)
    }

    @Test func theCallersEnvironmentStaysOutbutForItsHarmlessPart() {
        let environment = Self.build(caller: [
            "PATH": "/usr/bin", "HOME": "/home/op", "TERM": "xterm", "SECRET_IN_PARENT": "s3cret", "ANTHROPIC_API_KEY": "sk-real",
            "AGENTHOST_ADMIN_TOKEN": "ah1.ADMIN", "AWS_SECRET_ACCESS_KEY": "aws",
        ])
        #expect(environment["PATH"] == "/usr/bin")
        #expect(environment["HOME"] == "/home/op")
        #expect(environment["TERM"] == "xterm")
        for name in ["SECRET_IN_PARENT", "AGENTHOST_ADMIN_TOKEN", "AWS_SECRET_ACCESS_KEY"] { #expect(environment[name] == nil, "\(name)") }
        #expect(environment["ANTHROPIC_API_KEY"] == "ah1.LEASE", "the lease, never the caller's key")
        #expect(!environment.values.contains { $0.contains("sk-real") || $0.contains("s3cret") || $0.contains("ADMIN") })
    }

    @Test func theSDKsVariablesPointAtTheProxyWithTheLease() {
        let environment = Self.build()
        #expect(environment["AGENTHOST_URL"] == "http://127.0.0.1:8080")
        #expect(environment["AGENTHOST_TOKEN"] == "ah1.LEASE")
        #expect(environment["AGENTHOST_RUN_ID"] == "r1")
        #expect(environment["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8080/proxy/anthropic")
        #expect(environment["OPENAI_BASE_URL"] == "http://127.0.0.1:8080/proxy/openai/v1")
        #expect(environment["OPENAI_API_KEY"] == "ah1.LEASE")
    }

    @Test func gitGetsAHelperThatReadsTheLeaseWhenAsked() {
        let environment = Self.build()
        #expect(environment["GIT_CONFIG_COUNT"] == "1")
        #expect(environment["GIT_CONFIG_KEY_0"] == "credential.http://127.0.0.1:8080.helper")
        let helper = environment["GIT_CONFIG_VALUE_0"] ?? ""
        #expect(helper.contains("$AGENTHOST_TOKEN"))
        #expect(!helper.contains("ah1.LEASE"), "no configuration value holds the lease")
        #expect(Self.build().keys.filter { $0.hasPrefix("GIT_CONFIG") }.count == 3)
    }

    @Test func passedVariablesComeButNeverOverTheLaunchersOwn() {
        let environment = Self.build(
            caller: [
                "SSL_CERT_FILE": "/ca.pem", "AGENTHOST_TOKEN": "ah1.OTHER", "GIT_CONFIG_KEY_0": "x", "GIT_CONFIG_COUNT": "5",
                "AGENTHOST_ADMIN_TOKEN": "ah1.ADMIN",
            ],
            passed: ["SSL_CERT_FILE", "AGENTHOST_TOKEN", "GIT_CONFIG_KEY_0", "GIT_CONFIG_COUNT", "AGENTHOST_ADMIN_TOKEN"])
        #expect(environment["AGENTHOST_ADMIN_TOKEN"] == nil, "the launcher's credential never crosses, even when passed")
        #expect(environment["SSL_CERT_FILE"] == "/ca.pem")
        #expect(environment["AGENTHOST_TOKEN"] == "ah1.LEASE")
        #expect(environment["GIT_CONFIG_COUNT"] == "1")
        #expect(environment["GIT_CONFIG_KEY_0"] == "credential.http://127.0.0.1:8080.helper")
    }

    @Test func aPlaceholderInAFilledInValueIsNotFilledInAgain() {
        let upstream = LaunchEnvironment.Upstream(
            name: "x", path: "/proxy/x/", environment: ["X_URL": "{proxy}?a={token}&b={other}"], git: false)
        let environment = LaunchEnvironment.build(
            caller: [:], passed: [], agentURL: "http://h:1", lease: "{proxy}", runID: "r", upstreams: [upstream])
        #expect(environment["X_URL"] == "http://h:1/proxy/x?a={proxy}&b={other}")
    }
}
