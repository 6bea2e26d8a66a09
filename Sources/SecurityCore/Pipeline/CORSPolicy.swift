/// Which browser origins may call the API, and what the pipeline tells them.
///
/// Origins are an allow-list of exact `scheme://host[:port]` values. `*` is accepted only without
/// credentials, and `null` (sandboxed frames, `file:` pages) never. An allowed origin is echoed
/// back with `Vary: Origin`; any other origin gets no CORS headers, so the browser keeps the
/// response from the page.
///
/// ```swift
/// let cors = try CORSPolicy(allowedOrigins: ["https://console.example.com"])
/// ```
public struct CORSPolicy: Hashable, Sendable {
    /// The allowed origins, lower-cased; `["*"]` for any origin (only without credentials).
    public let allowedOrigins: Set<String>
    /// Methods a preflight may ask for.
    public let allowedMethods: [String]
    /// Request headers a preflight may ask for, lower-cased.
    public let allowedHeaders: [String]
    /// Response headers a page may read.
    public let exposedHeaders: [String]
    /// Whether to send `Access-Control-Allow-Credentials: true` (cookies, TLS client certificates).
    public let allowsCredentials: Bool
    /// How long a browser may cache a preflight answer, in seconds.
    public let maxAge: Int

    /// Checks and builds a policy. Throws ``CORSConfigurationError`` for an origin that is not
    /// `scheme://host[:port]`, for `null`, and for `*` together with credentials.
    public init(
        allowedOrigins: [String],
        allowedMethods: [String] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allowedHeaders: [String] = ["authorization", "content-type", "x-agent-token"],
        exposedHeaders: [String] = [
            "Retry-After", "WWW-Authenticate", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
            "RateLimit", "RateLimit-Policy",
        ],
        allowsCredentials: Bool = false,
        maxAge: Int = 600
    ) throws {
        var origins = Set<String>()
        for origin in allowedOrigins {
            let lowered = origin.lowercased()
            if lowered == "*" {
                guard !allowsCredentials else {
                    throw CORSConfigurationError(
                        .invalidOrigin, "the origin * cannot be combined with credentials; list the origins instead")
                }
            } else {
                guard lowered != "null" else {
                    throw CORSConfigurationError(
                        .invalidOrigin, "the origin null is shared by every sandboxed page and file: URL; it cannot be allowed")
                }
                guard Self.isOrigin(lowered) else {
                    throw CORSConfigurationError(
                        .invalidOrigin, "'\(origin.prefix(100))' is not an origin: write scheme://host[:port] with no path")
                }
            }
            origins.insert(lowered)
        }
        guard !origins.isEmpty else { throw CORSConfigurationError(.noOrigins, "a CORS policy needs at least one origin") }
        guard origins.count == 1 || !origins.contains("*") else {
            throw CORSConfigurationError(.invalidOrigin, "the origin * already allows every origin; list no others")
        }
        let token = { (name: String) in !name.isEmpty && name.utf8.allSatisfy { isTokenByte($0) } }
        guard allowedMethods.allSatisfy(token), allowedHeaders.allSatisfy(token), exposedHeaders.allSatisfy(token) else {
            throw CORSConfigurationError(.invalidSetting, "CORS methods and header names must be HTTP tokens")
        }
        guard (0...86_400).contains(maxAge) else {
            throw CORSConfigurationError(.invalidSetting, "CORS max age must be 0 to 86400 seconds")
        }
        self.allowedOrigins = origins
        self.allowedMethods = allowedMethods.map { $0.uppercased() }
        self.allowedHeaders = allowedHeaders.map { $0.lowercased() }
        self.exposedHeaders = exposedHeaders
        self.allowsCredentials = allowsCredentials
        self.maxAge = maxAge
    }

    /// Whether `origin` (as a browser sends it) is allowed.
    public func allows(origin: String) -> Bool {
        allowedOrigins.contains("*") || allowedOrigins.contains(origin.lowercased())
    }

    /// The headers for an actual (not preflight) request from `origin`; empty for an origin that
    /// is not allowed.
    func responseHeaders(origin: String?) -> [HeaderField] {
        guard let origin, allows(origin: origin) else { return [] }
        var headers = [HeaderField(name: "Access-Control-Allow-Origin", value: allowedOrigins.contains("*") ? "*" : origin)]
        if !allowedOrigins.contains("*") { headers.append(HeaderField(name: "Vary", value: "Origin")) }
        if allowsCredentials { headers.append(HeaderField(name: "Access-Control-Allow-Credentials", value: "true")) }
        if !exposedHeaders.isEmpty {
            headers.append(HeaderField(name: "Access-Control-Expose-Headers", value: exposedHeaders.joined(separator: ", ")))
        }
        return headers
    }

    /// The answer to a preflight: its headers, or why it is refused.
    func preflight(origin: String, method: String, requestHeaders: [String]) -> Result<[HeaderField], PreflightRefusal> {
        guard allows(origin: origin) else { return .failure(.origin) }
        guard allowedMethods.contains(method) else { return .failure(.method) }
        let asked = requestHeaders.flatMap { $0.split(separator: ",") }.map { ClientAddressResolver.trimmed($0).lowercased() }.filter {
            !$0.isEmpty
        }
        guard asked.allSatisfy({ allowedHeaders.contains($0) }) else { return .failure(.headers) }
        var headers = [
            HeaderField(name: "Access-Control-Allow-Origin", value: allowedOrigins.contains("*") ? "*" : origin),
            HeaderField(name: "Access-Control-Allow-Methods", value: allowedMethods.joined(separator: ", ")),
            HeaderField(name: "Access-Control-Allow-Headers", value: allowedHeaders.joined(separator: ", ")),
            HeaderField(name: "Access-Control-Max-Age", value: String(maxAge)),
            HeaderField(name: "Vary", value: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        if allowsCredentials { headers.append(HeaderField(name: "Access-Control-Allow-Credentials", value: "true")) }
        return .success(headers)
    }

    enum PreflightRefusal: Error {
        case origin, method, headers
    }

    /// `scheme://host[:port]`: http or https, a host of letters, digits, `-` and `.` (or a bracketed
    /// IPv6 address), an optional port, nothing after.
    static func isOrigin(_ text: String) -> Bool {
        let rest: Substring
        if text.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            return false
        }
        var host = rest
        var port: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            guard IPAddress(rest[rest.index(after: rest.startIndex)..<close]) != nil else { return false }
            let after = rest[rest.index(after: close)...]
            host = rest[...close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
        } else {
            let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            port = parts.count == 2 ? parts[1] : nil
            guard !host.isEmpty,
                host.utf8.allSatisfy({ byte in
                    (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
                })
            else { return false }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), let number = Int(port), (1...65_535).contains(number)
            else { return false }
        }
        return true
    }
}

/// A CORS configuration that cannot be used.
public struct CORSConfigurationError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidOrigin = "invalid_origin"
            case noOrigins = "no_origins"
            case invalidSetting = "invalid_setting"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// An origin that is not scheme://host[:port], or one that cannot be allowed (`null`, `*` with credentials or beside others).
        public static let invalidOrigin = Code(.invalidOrigin)
        /// No origin at all.
        public static let noOrigins = Code(.noOrigins)
        /// A method, header name or max age that cannot be used.
        public static let invalidSetting = Code(.invalidSetting)

        public var description: String { value.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong, without secrets.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

/// Whether `byte` may appear in an HTTP token (RFC 9110 `tchar`).
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
