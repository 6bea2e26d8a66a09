import Foundation
import SecurityCore
import Testing

@testable import AgentHost

/// Upstreams as the configuration file declares them: what is accepted, and what is refused with
/// the line and key at fault.
struct UpstreamTests {
    /// Docs/examples/upstreams.yaml, which Docs/BROKERED.md shows.
    static let examplesFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Docs/examples/upstreams.yaml").path
    static var examples: String { (try? String(contentsOfFile: examplesFile, encoding: .utf8)) ?? "" }

    /// The configuration `text` comes to over the defaults.
    static func resolve(_ text: String, path: String) throws -> AgentHostConfiguration {
        try ServeSettings.defaults.overlaid(by: ServeSettings(yaml: text, path: path)).resolve().configuration
    }

    @Test func theExamplesRead() throws {
        let upstreams = try Self.resolve(Self.examples, path: "agenthost.yaml").upstreams
        #expect(upstreams.map(\.name) == ["anthropic", "openai", "github", "github-git", "gitlab"])
        let anthropic = upstreams[0]
        #expect(anthropic.injection == .header(name: "x-api-key", prefix: "", suffix: ""))
        #expect(anthropic.methods == ["POST"] && anthropic.maximumBodyBytes == 16 << 20)
        #expect(anthropic.rateLimit.name == "proxy-anthropic" && anthropic.rateLimit.limit == 600 && anthropic.rateLimit.key == .principal)
        #expect(anthropic.destination(path: "/v1/messages", query: "beta=true") == "https://api.anthropic.com/v1/messages?beta=true")
        #expect(upstreams[1].injection == .header(name: "authorization", prefix: "Bearer ", suffix: ""))
        #expect(upstreams[2].injection == .header(name: "authorization", prefix: "token ", suffix: ""))
        let git = upstreams[3]
        #expect(git.injection == .basic(user: "x-access-token") && git.maximumBodyBytes == 512 << 20 && git.timeout == .seconds(600))
        #expect(git.rateLimit.limit == 600 && upstreams[4].rateLimit.limit == 120 && upstreams[4].rateLimit.burst == 240)
        #expect(git.connections == Upstream.defaultConnections && git.queue == Upstream.defaultQueue)
        #expect(upstreams[4].connections == 16 && upstreams[4].queue == 32)
        #expect(!git.http2 && upstreams[0].http2)
        #expect(git.template(matching: "/octo/hello.git/info/refs")?.description == "/{owner}/{repo}/info/refs")
        #expect(git.template(matching: "/octo/hello.git/../x/info/refs") == nil)
        #expect(git.destination(path: "/o/r/info/refs", query: nil) == "https://github.com/o/r/info/refs")
        // A base path is kept in front of the agent's path.
        #expect(upstreams[4].destination(path: "/projects/7/issues", query: nil) == "https://gitlab.example.com/api/v4/projects/7/issues")
        #expect(upstreams[4].injection.headerName == "private-token")
    }

    @Test(arguments: [
        ("url: http://api.example.com", "url: http:// is only for a loopback address"),
        ("url: ftp://api.example.com", "url: 'ftp://api.example.com' is not an https:// URL"),
        ("url: https://user:pw@api.example.com", "url:"),
        ("url: https://api.example.com/?q=1", "url:"),
        ("url: https://api.example.com/a/../b", "url: the URL's path"),
        ("inject: \"x-api-key: no placeholder\"", "inject: the value must hold {secret} once"),
        ("inject: \"host: {secret}\"", "inject: host cannot carry a secret"),
        ("inject: \"transfer-encoding: {secret}\"", "inject: transfer-encoding cannot carry a secret"),
        ("inject: nothing", "inject: write"),
        ("grant: PATH", "grant: PATH changes how programs load or run"),
        ("methods: [get]", "methods: 'get' is not an upper-case method"),
        ("paths: [\"v1/**\"]", "paths: 'v1/**': path must start with /"),
        ("paths: [\"/v1/**/x\"]", "paths: '/v1/**/x': ** may only be the last segment"),
        ("max_body: lots", "max_body: 'lots' is not a size"),
        ("max_body: 2GiB", "max_body: must be from 0 bytes to 1 GiB"),
        ("timeout: forever", "timeout: 'forever' is not a duration"),
        ("rate_limit: fast", "rate_limit: 'fast': write LIMIT/PERIOD[/BURST]"),
        ("ca_file: /nonexistent/ca.pem", "ca_file: cannot read /nonexistent/ca.pem"),
        ("colour: blue", "unknown key 'colour'"),
        ("connections: 0", "connections: must be from 1 to 1024"),
        ("connections: many", "connections: 'many' is not a whole number"),
        ("queue: -1", "queue: must be from 0 to 100000"),
        ("http2: maybe", "http2: 'maybe' is not true or false"),
    ])
    func aBadSettingIsRefusedWithItsLineAndKey(line: String, expected: String) throws {
        var fields = [
            "url": "url: http://127.0.0.1:9000", "grant": "grant: API_KEY", "inject": "inject: \"x-api-key: {secret}\"",
            "methods": "methods: [GET]", "paths": "paths: [\"/v1/**\"]",
        ]
        let key = String(line.prefix { $0 != ":" })
        fields[key] = line
        let order =
            ["url", "grant", "inject", "methods", "paths"]
            + (fields.keys.sorted().filter { !["url", "grant", "inject", "methods", "paths"].contains($0) })
        let text = "port: 9000\nupstreams:\n  api:\n" + order.map { "    " + fields[$0]! }.joined(separator: "\n") + "\n"
        let error = #expect(throws: AgentHostError.self) { try Self.resolve(text, path: "up.yaml") }
        let reason = error?.reason ?? ""
        let lineNumber = 4 + order.firstIndex(of: key)!
        #expect(reason.hasPrefix("up.yaml:\(lineNumber): upstreams.api"), "\(reason)")
        #expect(reason.contains(expected), "\(reason)")
    }

    @Test func theVariablesARunSetsAreTheKnownSDKsOrTheEntrys() throws {
        let upstreams = try Self.resolve(Self.examples, path: "agenthost.yaml").upstreams
        #expect(upstreams[0].environment == ["ANTHROPIC_BASE_URL": "{proxy}", "ANTHROPIC_API_KEY": "{token}"])
        let openAI = upstreams[1]
        #expect(openAI.environment["OPENAI_API_KEY"] == "{token}")
        #expect(openAI.environment["OPENAI_BASE_URL"] == (openAI.url.hasSuffix("/v1") ? "{proxy}" : "{proxy}/v1"))
        #expect(upstreams[2].environment.isEmpty, "no SDK is known for the GitHub API")
        let text = """
            upstreams:
              search:
                url: https://api.search.example
                grant: SEARCH_KEY
                inject: "x-key: {secret}"
                methods: [GET]
                paths: ["/**"]
                environment:
                  SEARCH_URL: "{proxy}/v2"
                  SEARCH_KEY: "{token}"

            """
        #expect(try Self.resolve(text, path: "up.yaml").upstreams[0].environment == ["SEARCH_URL": "{proxy}/v2", "SEARCH_KEY": "{token}"])
        for (entry, expected) in [
            ("      SEARCH_KEY: \"{secret}\"", "only {proxy} and {token}"), ("      PATH: /tmp", "PATH changes how programs load or run"),
            ("      lower-case: x", "environment: lower-case"),
        ] {
            let bad = text.replacingOccurrences(of: "      SEARCH_KEY: \"{token}\"", with: entry)
            let error = #expect(throws: AgentHostError.self) { try Self.resolve(bad, path: "up.yaml") }
            #expect(error?.reason.contains("upstreams.search.environment: ") == true, "\(error?.reason ?? "")")
            #expect(error?.reason.contains(expected) == true, "\(error?.reason ?? "")")
        }
    }

    @Test func aMissingKeyOrAStrangeShapeIsNamed() throws {
        let missing = #expect(throws: AgentHostError.self) {
            try ServeSettings(yaml: "upstreams:\n  api:\n    url: https://a.example\n", path: "up.yaml")
        }
        #expect(missing?.reason == "up.yaml:2: upstreams.api: grant is required")
        let badName = #expect(throws: AgentHostError.self) {
            try ServeSettings(
                yaml:
                    "upstreams:\n  Bad/Name:\n    url: https://a.example\n    grant: K\n    inject: \"a: {secret}\"\n    methods: [GET]\n    paths: [\"/**\"]\n",
                path: "up.yaml")
        }
        #expect(badName?.reason.hasPrefix("up.yaml:2: upstreams.Bad/Name.name:") == true, "\(badName?.reason ?? "")")
        let list = #expect(throws: AgentHostError.self) { try ServeSettings(yaml: "upstreams: [a, b]\n", path: "up.yaml") }
        #expect(list?.reason.contains("expected a mapping of name: settings") == true)
    }

    @Test func checkPrintsTheUpstreamsAndReadsThemBack() throws {
        let directory = try TemporaryDirectory()
        let file = directory.path + "/agenthost.yaml"
        try Self.examples.write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let report = AgentHostCLI.checkConfiguration(file: file, environment: [:])
        #expect(report.valid, "\(report.problems)")
        let text = report.lines.joined(separator: "\n")
        #expect(text.contains("  anthropic:\n    url: \"https://api.anthropic.com\"\n    grant: ANTHROPIC_API_KEY"), "\(text)")
        #expect(text.contains(#"inject: "basic: x-access-token""#))
        let echoed = directory.path + "/echoed.yaml"
        try text.write(toFile: echoed, atomically: true, encoding: .utf8)
        let again = try ServeSettings.Source(configFile: echoed, environment: [:]).load().resolve().configuration.upstreams
        let original = try Self.resolve(Self.examples, path: file).upstreams
        #expect(again == original)
    }

    @Test func aCAFileMustHoldACertificate() throws {
        let directory = try TemporaryDirectory()
        let ca = directory.path + "/ca.pem"
        try "not a certificate\n".write(toFile: ca, atomically: true, encoding: .utf8)
        let text = """
            upstreams:
              api:
                url: https://api.example.com
                grant: API_KEY
                inject: "Authorization: Bearer {secret}"
                methods: [GET]
                paths: ["/**"]
                ca_file: ca.pem

            """
        let error = #expect(throws: AgentHostError.self) { try Self.resolve(text, path: directory.path + "/up.yaml") }
        #expect(error?.reason == "upstream api: ca_file \(ca) holds no PEM certificate")
    }

    @Test func theProxyPathRulesRefuseWhatAnUpstreamCouldReadAsAnotherPath() {
        for path in ["/v1/a", "/v1/a%20b", "/v1/caf%C3%A9"] {
            #expect(ProxyRoutes.isForwardable(path[...]), "\(path)")
        }
        for path in ["/v1/../x", "/v1//x", "/v1/./x", "/v1/a%2Fb", "/v1/a%2fb", "/v1/%2e%2e/x", "/v1/a%5Cb", "/v1/a\\b", "/v1/a%00"] {
            #expect(!ProxyRoutes.isForwardable(path[...]), "\(path)")
        }
    }
}
