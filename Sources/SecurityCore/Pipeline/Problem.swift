/// An RFC 9457 problem details object, the body of every refusal.
///
/// `detail` is written by this library and never echoes request input, so it cannot carry a
/// token or an attacker's bytes back out.
public struct Problem: Hashable, Sendable {
    /// A URI naming the kind of problem.
    public var type: String
    /// A short summary of the kind of problem.
    public var title: String
    /// The HTTP status code.
    public var status: Int
    /// What went wrong with this request.
    public var detail: String
    /// A stable machine-readable code (an extension member).
    public var code: String
    /// Further extension members, such as `scope` on a 429 or `errors` on a 400.
    public var extensions: [String: JSONValue]

    public init(
        type: String, title: String, status: Int, detail: String, code: String, extensions: [String: JSONValue] = [:]
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.code = code
        self.extensions = extensions.filter { !Self.standardMembers.contains($0.key) }
    }

    /// A problem with no type of its own (`about:blank`, RFC 9457 §4.2.1): the title is the
    /// status's reason phrase and `code` says what went wrong. Every refusal of this library is one;
    /// a server that names its problem types gives them one with ``typed(namespace:)``.
    public init(status: Int, code: ProblemCode, detail: String, extensions: [String: JSONValue] = [:]) {
        self.init(
            type: "about:blank", title: Self.title(of: status), status: status, detail: detail, code: code.rawValue,
            extensions: extensions)
    }

    /// The code as one of this package's, `nil` for an embedder's own.
    public var problemCode: ProblemCode? { ProblemCode(rawValue: code) }

    /// The problem with a type of the server's own when it has none: `namespace` and the code with
    /// dashes (`urn:example:problem:` and `rate_limited` give `urn:example:problem:rate-limited`).
    /// A problem that already has a type keeps it.
    public func typed(namespace: String) -> Problem {
        guard type == "about:blank" else { return self }
        var copy = self
        copy.type = namespace + String(code.map { $0 == "_" ? "-" : $0 })
        return copy
    }

    /// The reason phrase of the statuses the pipeline sends.
    static func title(of status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Error"
        }
    }

    private static let standardMembers: Set<String> = ["type", "title", "status", "detail", "code"]

    /// The media type of ``json``.
    public static let mediaType = "application/problem+json"

    /// The problem as a compact JSON object.
    public var json: String {
        var writer = JSONWriter(capacity: 192)
        writer.raw("{")
        writer.key("type", first: true)
        writer.string(type)
        writer.key("title")
        writer.string(title)
        writer.key("status")
        writer.raw(String(status))
        writer.key("detail")
        writer.string(detail)
        writer.key("code")
        writer.string(code)
        for key in extensions.keys.sorted() {
            writer.key(key)
            writer.value(extensions[key]!)
        }
        writer.raw("}")
        return writer.text
    }
}
