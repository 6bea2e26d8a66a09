import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import SecurityCore

/// Hummingbird middleware that adapts ``SecurityPipeline``: it turns a request into
/// ``RequestFacts``, asks the pipeline, and either runs the route with the principal in the
/// context or answers with the refusal's problem+json body.
///
/// Refusals are logged with their code, method, path and peer, never with a header value.
public struct SecurityMiddleware: RouterMiddleware {
    public typealias Context = AgentRequestContext

    let pipeline: SecurityPipeline

    public init(pipeline: SecurityPipeline) {
        self.pipeline = pipeline
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let facts = RequestFacts(
            method: request.method.rawValue,
            path: request.uri.path,
            headers: request.headers.map { HeaderField(name: $0.name.canonicalName, value: $0.value) },
            peerAddress: context.remoteAddress?.ipAddress,
            bodyLength: request.headers[.contentLength].flatMap { Int($0) }
        )
        switch pipeline.evaluate(facts) {
        case .allow(let principal, let headers):
            var context = context
            context.principal = principal
            var response = try await next(request, context)
            for header in headers {
                if let name = HTTPField.Name(header.name) { response.headers.append(HTTPField(name: name, value: header.value)) }
            }
            return response
        case .deny(let refusal):
            context.logger.notice(
                "request refused",
                metadata: [
                    "code": .string(refusal.problem.code), "status": .stringConvertible(refusal.status),
                    "method": .string(facts.method), "path": .string(facts.path),
                    "peer": .string(facts.peerAddress ?? "-"),
                ]
            )
            return Self.response(for: refusal)
        }
    }

    /// The HTTP response for a refusal: its status, headers and problem+json body.
    public static func response(for refusal: Refusal) -> Response {
        var headers: HTTPFields = [.contentType: Problem.mediaType, .cacheControl: "no-store"]
        for header in refusal.headers {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: refusal.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: refusal.problem.json))
        )
    }
}
