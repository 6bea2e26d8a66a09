import HTTPTypes
import Hummingbird
import NIOCore
import SecurityCore

/// Reading and writing the JSON bodies of AgentHost's routes.
enum JSONBody {
    /// The request body as JSON checked against `schema`. Throws the ``HTTPRefusal`` to answer
    /// with: `415` for another content type, `400` for invalid JSON or fields. The middleware has
    /// already read the body within the route's cap.
    static func read(_ request: Request, schema: Schema) async throws -> JSONValue {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            throw HTTPRefusal(status: 415, code: .unsupportedMediaType, detail: "Send the body as application/json.")
        }
        let body = try await request.body.collect(upTo: .max)
        switch schema.check(body: Array(body.readableBytesView)) {
        case .success(let value): return value
        case .failure(let refusal): throw HTTPRefusal(refusal)
        }
    }

    /// A JSON response that no cache keeps.
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.json))
        )
    }
}
