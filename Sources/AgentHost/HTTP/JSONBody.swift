import HTTPTypes
import Hummingbird
import NIOCore
import SecurityCore

/// Reading and writing the JSON bodies of AgentHost's routes.
enum JSONBody {
    /// The request body as JSON checked against `schema`, or the refusal to answer with: `415` for
    /// another content type, `400` for invalid JSON or fields. The middleware has already read the
    /// body within the route's cap.
    static func read(_ request: Request, schema: Schema) async throws -> Result<JSONValue, Refusal> {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            return .failure(Refusal(status: 415, code: "unsupported_media_type", detail: "Send the body as application/json."))
        }
        let body = try await request.body.collect(upTo: .max)
        return schema.check(body: Array(body.readableBytesView))
    }

    /// A JSON response that no cache keeps.
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.json))
        )
    }
}
