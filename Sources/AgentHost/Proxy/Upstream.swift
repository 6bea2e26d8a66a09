import Foundation
public import SecurityCore

/// A service the proxy forwards to (`/proxy/{name}/...`): where it is, which granted secret it
/// injects and how, and what an agent may call there.
///
/// An agent calls `/proxy/anthropic/v1/messages` with its own AgentHost token; AgentHost opens the
/// secret the agent was granted under ``grant``, injects it as ``injection`` says, and forwards the
/// call to ``url`` + `/v1/messages`. Only ``methods`` on paths matching ``paths`` are forwarded.
///
/// ```swift
/// let anthropic = try Upstream(
///     name: "anthropic", url: "https://api.anthropic.com", grant: "ANTHROPIC_API_KEY",
///     inject: "x-api-key: {secret}", methods: ["GET", "POST"], paths: ["/v1/**"])
/// ```
public struct Upstream: Hashable, Sendable {
    /// How the secret goes into a forwarded request.
    public enum Injection: Hashable, Sendable {
        /// A header, its value the secret between `prefix` and `suffix` (`Authorization: Bearer {secret}`).
        case header(name: String, prefix: String, suffix: String)
        /// HTTP Basic with this user name and the secret as the password (git over HTTPS: `x-access-token`).
        case basic(user: String)

        /// The header it sets, lower case.
        public var headerName: String {
            switch self {
            case .header(let name, _, _): name
            case .basic: "authorization"
            }
        }
    }

    /// The name in `/proxy/{name}/...`: 1-64 of a-z 0-9 - _, starting with a letter or digit.
    public let name: String
    /// The base URL, without a trailing `/`: `https://`, or `http://` to a loopback address only.
    public let url: String
    /// The grant, by environment name, whose secret is injected: each agent needs its own.
    public let grant: String
    /// How the secret is injected.
    public let injection: Injection
    /// The methods an agent may use, upper case.
    public let methods: Set<String>
    /// The paths (below ``url``) an agent may call; `{name}` matches one segment, a final `**` the rest.
    public let paths: [PathTemplate]
    /// The largest request body forwarded, in bytes.
    public let maximumBodyBytes: Int
    /// How long connecting may take.
    public let connectTimeout: Duration
    /// How long the upstream may stay silent, before its answer starts or between two pieces of it.
    public let timeout: Duration
    /// A PEM file of extra certificate authorities to trust besides the system's, if any.
    public let certificateAuthorityFile: String?
    /// The requests per principal this upstream takes: the scope `proxy-<name>` on `/proxy/<name>/*`.
    public let rateLimit: RateLimitScope
    /// The most connections this server opens to the upstream, kept alive and reused by every
    /// agent's calls.
    public let connections: Int
    /// Whether calls may go over HTTP/2 when an `https` upstream offers it (ALPN), sharing its
    /// connections; else HTTP/1.1 only. Off by default: on loopback it measured no better than
    /// HTTP/1.1 (Docs/BENCHMARKS.md, "As fast as its own libraries allow").
    public let http2: Bool
    /// The most calls that wait for a connection when all ``connections`` are busy; a call past
    /// them is refused `503 upstream_busy` with `Retry-After`, never queued without bound.
    public let queue: Int
    /// The variables `agenthost run` sets for an agent granted this upstream, by name, their
    /// values templates of `{proxy}` (where the agent reaches this upstream through AgentHost,
    /// `…/proxy/<name>`) and `{token}` (the agent's lease). Given in the entry, or the defaults
    /// of ``defaultEnvironment(name:host:grant:basePath:)``. A `basic:` upstream (git) gets a
    /// credential helper instead (Docs/RUN.md).
    public let environment: [String: String]

    /// The host, scheme and port every forwarded request must go to (read from ``url``).
    let origin: Origin
    /// ``url``'s path, without a trailing `/` (often empty).
    let basePath: String

    struct Origin: Hashable, Sendable {
        let scheme: String
        let host: String
        let port: Int
    }

    /// The body cap when none is given: 16 MiB.
    public static let defaultMaximumBodyBytes = 16 << 20

    /// ``connections`` when none is given: 64. A model API's call lasts seconds to minutes
    /// (streamed answers), so the pool bounds how many calls are under way at once, not how fast
    /// they go; 64 lets a fleet of agents stream side by side, where AsyncHTTPClient's own
    /// default of 8 would queue the ninth call behind a minute-long stream. An idle connection
    /// costs a socket and a few KiB, and is closed after 60 s unused.
    public static let defaultConnections = 64
    /// ``queue`` when none is given: 256 calls, four per connection.
    public static let defaultQueue = 256

    /// Checks and builds an upstream. `inject` is `"Header-Name: text {secret} text"` or
    /// `"basic: USER"`; `rateLimit` is `LIMIT/PERIOD[/BURST]` (default `600/1m`). Throws
    /// ``UpstreamError`` naming the field that is wrong.
    public init(
        name: String, url: String, grant: String, inject: String, methods: [String], paths: [String],
        maximumBodyBytes: Int = Upstream.defaultMaximumBodyBytes, connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(300), certificateAuthorityFile: String? = nil, rateLimit: String = "600/1m",
        connections: Int = Upstream.defaultConnections, queue: Int = Upstream.defaultQueue, http2: Bool = false,
        environment: [String: String]? = nil
    ) throws(UpstreamError) {
        func fail(_ field: String, _ reason: String) -> UpstreamError { UpstreamError(field: field, reason: reason) }
        guard Self.isName(name) else {
            throw fail("name", "'\(name.prefix(64))' must be 1-64 of a-z 0-9 - _, starting with a letter or digit")
        }
        self.name = name
        (self.url, self.origin, self.basePath) = try Self.parseURL(url)
        do {
            try CredentialService.checkEnvironmentName(grant)
        } catch {
            throw fail("grant", error.reason)
        }
        self.grant = grant
        self.injection = try Self.parseInjection(inject)
        guard !methods.isEmpty else { throw fail("methods", "name at least one method, such as [GET, POST]") }
        for method in methods where !method.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) || method.isEmpty {
            throw fail("methods", "'\(method.prefix(32))' is not an upper-case method such as GET or POST")
        }
        self.methods = Set(methods)
        guard !paths.isEmpty else { throw fail("paths", "name at least one path, such as \"/v1/**\"") }
        var templates: [PathTemplate] = []
        for path in paths {
            do {
                templates.append(try PathTemplate(validating: path))
            } catch {
                throw fail("paths", "'\(path.prefix(64))': \(error.reason)")
            }
        }
        self.paths = templates
        guard (0...(1 << 30)).contains(maximumBodyBytes) else { throw fail("max_body", "must be from 0 bytes to 1 GiB") }
        self.maximumBodyBytes = maximumBodyBytes
        for (field, duration) in [("connect_timeout", connectTimeout), ("timeout", timeout)]
        where duration <= .zero || duration > .seconds(86_400) {
            throw fail(field, "must be more than 0 and at most a day")
        }
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        if let certificateAuthorityFile, !FileManager.default.isReadableFile(atPath: certificateAuthorityFile) {
            throw fail("ca_file", "cannot read \(certificateAuthorityFile.prefix(200))")
        }
        self.certificateAuthorityFile = certificateAuthorityFile
        self.rateLimit = try Self.parseRateLimit(rateLimit, name: name)
        guard (1...1024).contains(connections) else { throw fail("connections", "must be from 1 to 1024") }
        self.connections = connections
        guard (0...100_000).contains(queue) else { throw fail("queue", "must be from 0 to 100000") }
        self.queue = queue
        self.http2 = http2
        if let environment {
            for (variable, template) in environment {
                try Self.checkEnvironmentEntry(variable, template)
            }
            self.environment = environment
        } else {
            self.environment = Self.defaultEnvironment(name: name, host: origin.host, grant: grant, basePath: basePath)
        }
    }

    /// The variables an agent's SDK reads, for the providers whose SDKs are known: the Anthropic
    /// SDKs (`ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`) for `api.anthropic.com` or the grant
    /// `ANTHROPIC_API_KEY`, and the OpenAI SDKs (`OPENAI_BASE_URL` with `/v1`, `OPENAI_API_KEY`)
    /// for `api.openai.com` or the grant `OPENAI_API_KEY`. None for any other upstream.
    public static func defaultEnvironment(name: String, host: String, grant: String, basePath: String) -> [String: String] {
        if host == "api.anthropic.com" || grant == "ANTHROPIC_API_KEY" {
            return ["ANTHROPIC_BASE_URL": "{proxy}", "ANTHROPIC_API_KEY": "{token}"]
        }
        if host == "api.openai.com" || grant == "OPENAI_API_KEY" {
            // The OpenAI SDKs' base URL holds the API version; the upstream's URL may hold it already.
            return ["OPENAI_BASE_URL": basePath.hasSuffix("/v1") ? "{proxy}" : "{proxy}/v1", "OPENAI_API_KEY": "{token}"]
        }
        return [:]
    }

    /// Placeholders an ``environment`` template may hold.
    static let environmentPlaceholders = ["{proxy}", "{token}"]

    private static func checkEnvironmentEntry(_ variable: String, _ template: String) throws(UpstreamError) {
        do {
            try CredentialService.checkEnvironmentName(variable)
        } catch {
            throw UpstreamError(field: "environment", reason: "\(variable.prefix(64)): \(error.reason)")
        }
        var rest = template
        for placeholder in environmentPlaceholders { rest = rest.replacingOccurrences(of: placeholder, with: "") }
        guard !rest.contains("{"), !rest.contains("}"), template.utf8.allSatisfy({ (0x20...0x7E).contains($0) }),
            template.utf8.count <= 1024
        else {
            throw UpstreamError(
                field: "environment",
                reason:
                    "\(variable.prefix(64)): a value is visible ASCII with only {proxy} and {token} as placeholders, such as \"{proxy}/v1\""
            )
        }
    }

    /// The URL a request for `path` (below the upstream, starting with `/`) and `query` goes to.
    func destination(path: Substring, query: Substring?) -> String {
        url.prefix(url.utf8.count - basePath.utf8.count) + basePath + path + (query.map { "?" + $0 } ?? "")
    }

    /// The first of ``paths`` that `path` (no query) matches, if any.
    func template(matching path: Substring) -> PathTemplate? {
        paths.first { $0.match(path) != nil }
    }

    // MARK: Parsing

    static func isName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...64).contains(bytes.count)
            && bytes.enumerated().allSatisfy { index, byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                case UInt8(ascii: "-"), UInt8(ascii: "_"): index > 0
                default: false
                }
            }
    }

    private static func parseURL(_ text: String) throws(UpstreamError) -> (String, Origin, String) {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        let usage = "'\(text.prefix(100))' is not an https:// URL (http:// only to a loopback address), such as https://api.anthropic.com"
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty, components.user == nil, components.password == nil,
            components.query == nil, components.fragment == nil
        else { throw UpstreamError(field: "url", reason: usage) }
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        switch scheme {
        case "https": break
        case "http":
            guard AgentHostConfiguration.isLoopback(bareHost) else {
                throw UpstreamError(
                    field: "url", reason: "http:// is only for a loopback address (tests); use https:// for \(host.prefix(100))")
            }
        default: throw UpstreamError(field: "url", reason: usage)
        }
        let path = components.percentEncodedPath
        guard path.isEmpty || (path.hasPrefix("/") && PathTemplate.isPlainPath(path[...])) else {
            throw UpstreamError(field: "url", reason: "the URL's path '\(path.prefix(100))' must be plain segments such as /api/v4")
        }
        let origin = Origin(scheme: scheme, host: bareHost, port: components.port ?? (scheme == "https" ? 443 : 80))
        return (trimmed, origin, path)
    }

    private static func parseInjection(_ text: String) throws(UpstreamError) -> Injection {
        let usage = "write \"Header-Name: text {secret}\" (such as \"x-api-key: {secret}\") or \"basic: USER\""
        guard let colon = text.firstIndex(of: ":") else { throw UpstreamError(field: "inject", reason: usage) }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else { throw UpstreamError(field: "inject", reason: usage) }
        guard value.utf8.allSatisfy({ $0 == UInt8(ascii: " ") || (0x21...0x7E).contains($0) }) else {
            throw UpstreamError(field: "inject", reason: "the value may hold only visible ASCII and spaces")
        }
        if name == "basic" {
            guard !value.isEmpty, !value.contains(":"), !value.contains("{"), !value.contains(" ") else {
                throw UpstreamError(
                    field: "inject", reason: "basic: takes a user name without ':', spaces or {secret}, such as x-access-token")
            }
            return .basic(user: value)
        }
        guard !ProxyHeaders.neverInjected(name) else {
            throw UpstreamError(field: "inject", reason: "\(name) cannot carry a secret; name the header the upstream reads it from")
        }
        let parts = value.components(separatedBy: "{secret}")
        guard parts.count == 2 else { throw UpstreamError(field: "inject", reason: "the value must hold {secret} once; \(usage)") }
        return .header(name: name, prefix: parts[0], suffix: parts[1])
    }

    private static func parseRateLimit(_ text: String, name: String) throws(UpstreamError) -> RateLimitScope {
        let usage = "'\(text.prefix(64))': write LIMIT/PERIOD[/BURST], such as 600/1m"
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, let limit = Int(parts[0]), let seconds = DurationText.seconds(parts[1]) else {
            throw UpstreamError(field: "rate_limit", reason: usage)
        }
        var burst: Int?
        if parts.count == 3 {
            guard let value = Int(parts[2]) else { throw UpstreamError(field: "rate_limit", reason: usage) }
            burst = value
        }
        do {
            return try RateLimitScope(
                name: "proxy-" + name, limit: limit, period: .seconds(seconds), burst: burst, key: .principal,
                routes: [RouteMatch("/proxy/\(name)/**")].compactMap { $0 })
        } catch let error as RateLimitError {
            throw UpstreamError(field: "rate_limit", reason: error.reason)
        } catch {
            throw UpstreamError(field: "rate_limit", reason: usage)
        }
    }

    /// RFC 9110's `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// An upstream that cannot be used: which field, and why.
public struct UpstreamError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalid = "invalid_upstream"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A field that is missing or cannot be used.
        public static let invalid = Code(.invalid)

        public var description: String { value.rawValue }
    }

    /// What kind of failure, as a stable code.
    public let code: Code
    /// The configuration key at fault (`url`, `inject`, ...).
    public let field: String
    /// What is wrong with it. Never holds a secret: an upstream's configuration holds none.
    public let reason: String

    init(field: String, reason: String) {
        self.code = .invalid
        self.field = field
        self.reason = reason
    }
}
