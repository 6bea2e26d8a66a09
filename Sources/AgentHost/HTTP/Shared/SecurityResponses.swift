import HTTPTypes
public import Hummingbird
import NIOCore
public import SecurityCore

/// The HTTP side of the pipeline's answers, shared by every route and middleware.
public enum SecurityResponses {
    static func append(_ fields: [HeaderField], to headers: inout HTTPFields) {
        for field in fields {
            if let name = knownNames[field.name] ?? HTTPField.Name(field.name) {
                headers.append(HTTPField(name: name, value: field.value))
            }
        }
    }

    /// The names the pipeline writes on every allowed request, parsed once: `HTTPField.Name(_:)`
    /// validates and lowercases (allocating) on each call.
    private static let knownNames: [String: HTTPField.Name] = {
        let names = [
            "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit", "RateLimit-Policy",
            "Retry-After", "Vary", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
            "Access-Control-Expose-Headers", "X-Auth-Agent-ID", "X-Auth-Role", "X-Auth-Team", "X-Auth-Method",
        ]
        return Dictionary(uniqueKeysWithValues: names.compactMap { text in HTTPField.Name(text).map { (text, $0) } })
    }()

    /// The HTTP response for a refusal: its status, headers and problem+json body.
    public static func response(for refusal: Refusal) -> Response {
        var headers: HTTPFields = [.contentType: Problem.mediaType, .cacheControl: "no-store"]
        append(refusal.headers, to: &headers)
        return Response(
            status: HTTPResponse.Status(code: refusal.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: refusal.problem.typed(namespace: AgentHost.problemNamespace).json))
        )
    }
}
