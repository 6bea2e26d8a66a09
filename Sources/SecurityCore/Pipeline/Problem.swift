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

    /// A problem of AgentHost's own: its type is `urn:agenthost:problem:` and the code with
    /// dashes, its title the status's reason phrase.
    public init(status: Int, code: String, detail: String, extensions: [String: JSONValue] = [:]) {
        self.init(
            type: "urn:agenthost:problem:" + String(code.map { $0 == "_" ? "-" : $0 }), title: Self.title(of: status),
            status: status, detail: detail, code: code, extensions: extensions
        )
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
        var out = "{\"type\":\(jsonString(type)),\"title\":\(jsonString(title)),\"status\":\(status),"
            + "\"detail\":\(jsonString(detail)),\"code\":\(jsonString(code))"
        for key in extensions.keys.sorted() {
            out += "," + jsonString(key) + ":"
            extensions[key]!.write(to: &out)
        }
        return out + "}"
    }
}

/// `text` as a JSON string literal, quotes included.
func jsonString(_ text: String) -> String {
    // Most texts (codes, details, scope names) need no escaping: every refusal's body is built
    // here, so a refused request must not cost more than an allowed one.
    let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
        !bytes.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    }
    if plain == true { return "\"" + text + "\"" }
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
