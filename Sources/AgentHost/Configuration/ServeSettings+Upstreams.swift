import Foundation
import SecurityCore
import Yams

extension ServeSettings {
    /// The keys an upstream takes in the configuration file, in the order `config check` prints them.
    static let upstreamKeys = [
        "url", "grant", "inject", "methods", "paths", "max_body", "connect_timeout", "timeout", "ca_file", "rate_limit", "connections",
        "queue", "http2", "environment",
    ]

    /// The `upstreams:` mapping of a configuration file: each name to its settings. Throws
    /// ``AgentHostError`` naming the file, the line and the key of anything wrong.
    ///
    /// ```yaml
    /// upstreams:
    ///   anthropic:
    ///     url: https://api.anthropic.com
    ///     grant: ANTHROPIC_API_KEY
    ///     inject: "x-api-key: {secret}"
    ///     methods: [GET, POST]
    ///     paths: ["/v1/**"]
    /// ```
    static func upstreams(from node: Node, path: String) throws -> [Upstream] {
        func fail(_ node: Node?, _ message: String) -> AgentHostError {
            AgentHostError(.configuration, "\(path):\(node?.mark?.line ?? 0): \(message)")
        }
        guard case .mapping(let mapping) = node else { throw fail(node, "upstreams: expected a mapping of name: settings") }
        let folder = (path as NSString).deletingLastPathComponent
        var upstreams: [Upstream] = []
        for (nameNode, settingsNode) in mapping {
            guard case .scalar(let nameScalar) = nameNode else { throw fail(nameNode, "upstreams: each name must be a plain value") }
            let name = nameScalar.string
            guard case .mapping(let settings) = settingsNode else {
                throw fail(
                    settingsNode, "upstreams.\(name.prefix(64)): expected a mapping of settings (url, grant, inject, methods, paths, ...)")
            }
            var values: [String: (node: Node, key: Node)] = [:]
            for (keyNode, valueNode) in settings {
                guard let key = keyNode.scalar?.string, upstreamKeys.contains(key) else {
                    throw fail(
                        keyNode,
                        "upstreams.\(name.prefix(64)): unknown key '\(keyNode.scalar?.string.prefix(64) ?? "?")'; the keys are "
                            + upstreamKeys.joined(separator: ", "))
                }
                values[key] = (valueNode, keyNode)
            }
            func where_(_ key: String) -> Node { values[key]?.key ?? nameNode }
            func scalar(_ key: String) throws -> String? {
                guard let entry = values[key] else { return nil }
                guard case .scalar(let scalar) = entry.node, !scalar.string.isEmpty else {
                    throw fail(entry.key, "upstreams.\(name.prefix(64)).\(key): expected one value")
                }
                return scalar.string
            }
            func list(_ key: String) throws -> [String] {
                guard let entry = values[key] else { return [] }
                switch entry.node {
                case .scalar(let scalar): return [scalar.string]
                case .sequence(let sequence):
                    return try sequence.map { element in
                        guard case .scalar(let scalar) = element else {
                            throw fail(element, "upstreams.\(name.prefix(64)).\(key): each item must be a value")
                        }
                        return scalar.string
                    }
                default: throw fail(entry.key, "upstreams.\(name.prefix(64)).\(key): expected a list of values")
                }
            }
            for required in ["url", "grant", "inject", "methods", "paths"] where values[required] == nil {
                throw fail(nameNode, "upstreams.\(name.prefix(64)): \(required) is required")
            }
            var maximumBody = Upstream.defaultMaximumBodyBytes
            if let text = try scalar("max_body") {
                guard let bytes = byteCount(text) else {
                    throw fail(
                        where_("max_body"),
                        "upstreams.\(name.prefix(64)).max_body: '\(text.prefix(32))' is not a size such as 16MiB or 1048576")
                }
                maximumBody = bytes
            }
            func duration(_ key: String, default value: Duration) throws -> Duration {
                guard let text = try scalar(key) else { return value }
                guard let seconds = DurationText.seconds(text) else {
                    throw fail(where_(key), "upstreams.\(name.prefix(64)).\(key): '\(text.prefix(32))' is not a duration such as 30s or 5m")
                }
                return .seconds(seconds)
            }
            func count(_ key: String, default value: Int) throws -> Int {
                guard let text = try scalar(key) else { return value }
                guard let number = Int(text) else {
                    throw fail(where_(key), "upstreams.\(name.prefix(64)).\(key): '\(text.prefix(32))' is not a whole number")
                }
                return number
            }
            var http2 = false
            if let text = try scalar("http2") {
                guard let flag = Bool(text) else {
                    throw fail(where_("http2"), "upstreams.\(name.prefix(64)).http2: '\(text.prefix(32))' is not true or false")
                }
                http2 = flag
            }
            var environment: [String: String]?
            if let entry = values["environment"] {
                guard case .mapping(let variables) = entry.node else {
                    throw fail(entry.key, "upstreams.\(name.prefix(64)).environment: expected a mapping of VARIABLE: value")
                }
                environment = try Dictionary(
                    variables.map { key, value in
                        guard let variable = key.scalar?.string, let template = value.scalar?.string else {
                            throw fail(key, "upstreams.\(name.prefix(64)).environment: each entry is VARIABLE: value")
                        }
                        return (variable, template)
                    }, uniquingKeysWith: { first, _ in first })
            }
            var caFile = try scalar("ca_file")
            if let file = caFile, !file.hasPrefix("/"), folder != "" { caFile = (folder as NSString).appendingPathComponent(file) }
            do {
                upstreams.append(
                    try Upstream(
                        name: name, url: try scalar("url") ?? "", grant: try scalar("grant") ?? "", inject: try scalar("inject") ?? "",
                        methods: try list("methods"), paths: try list("paths"), maximumBodyBytes: maximumBody,
                        connectTimeout: try duration("connect_timeout", default: .seconds(10)),
                        timeout: try duration("timeout", default: .seconds(300)), certificateAuthorityFile: caFile,
                        rateLimit: try scalar("rate_limit") ?? "600/1m",
                        connections: try count("connections", default: Upstream.defaultConnections),
                        queue: try count("queue", default: Upstream.defaultQueue), http2: http2, environment: environment
                    ))
            } catch let error as UpstreamError {
                throw fail(where_(error.field), "upstreams.\(name.prefix(64)).\(error.field): \(error.reason)")
            }
        }
        return upstreams
    }

    /// `16MiB`, `512KiB`, `1GiB` or a number of bytes.
    static func byteCount(_ text: String) -> Int? {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Int(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) else { return nil }
            let (product, overflow) = number.multipliedReportingOverflow(by: scale)
            return overflow || number < 0 ? nil : product
        }
        return Int(text).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// The upstreams as the YAML `config check` prints, one line per setting.
    static func rendered(_ upstreams: [Upstream]) -> [String] {
        guard !upstreams.isEmpty else { return ["# upstreams: none, so /proxy/... answers 404"] }
        var lines = ["upstreams:"]
        for upstream in upstreams {
            let inject =
                switch upstream.injection {
                case .header(let name, let prefix, let suffix): "\(name): \(prefix){secret}\(suffix)"
                case .basic(let user): "basic: \(user)"
                }
            lines += [
                "  \(upstream.name):",
                "    url: \(quoted(upstream.url))",
                "    grant: \(upstream.grant)",
                "    inject: \(quoted(inject))",
                "    methods: [\(upstream.methods.sorted().joined(separator: ", "))]",
                "    paths: [\(upstream.paths.map { quoted($0.description) }.joined(separator: ", "))]",
                "    max_body: \(upstream.maximumBodyBytes)",
                "    connect_timeout: \(upstream.connectTimeout.components.seconds)s",
                "    timeout: \(upstream.timeout.components.seconds)s",
                "    rate_limit: \(upstream.rateLimit.limit)/\(upstream.rateLimit.period.components.seconds)s/\(upstream.rateLimit.burst)",
                "    connections: \(upstream.connections)",
                "    queue: \(upstream.queue)",
                "    http2: \(upstream.http2)",
            ]
            if let file = upstream.certificateAuthorityFile { lines.append("    ca_file: \(quoted(file))") }
            if !upstream.environment.isEmpty {
                lines.append("    environment:")
                lines += upstream.environment.sorted { $0.key < $1.key }.map { "      \($0.key): \(quoted($0.value))" }
            }
        }
        return lines
    }
}
