import HTTPTypes
import Hummingbird
import SecurityCore

/// A request context that carries what the pipeline needs (the socket peer) and what it decides
/// (the principal).
struct ExampleContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let peer: String?
    var principal: Principal?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress
        principal = nil
    }
}

/// The whole adapter: request facts in, the pipeline's outcome out (Docs/EMBEDDING.md).
struct PipelineMiddleware: RouterMiddleware {
    let pipeline: SecurityPipeline

    func handle(
        _ request: Request, context: ExampleContext, next: (Request, ExampleContext) async throws -> Response
    ) async throws -> Response {
        let facts = RequestFacts(
            method: request.method.rawValue,
            path: request.uri.path,
            headers: request.headers.map { HeaderField(name: $0.name.canonicalName, value: $0.value) },
            peerAddress: context.peer,
            bodyLength: request.headers[.contentLength].flatMap { Int($0) }
        )
        switch pipeline.evaluate(facts) {
        case .allow(let principal, let headers):
            var request = request
            // Read at most the route's cap: a body past it is refused, however it is framed.
            let limit = pipeline.bodyLimit(method: facts.method, path: facts.path)
            do {
                _ = try await request.collectBody(upTo: limit)
            } catch {
                return Self.response(for: SecurityPipeline.bodyTooLarge(limit: limit))
            }
            var context = context
            context.principal = principal
            var response = try await next(request, context)
            Self.add(headers, to: &response.headers)
            return response
        case .preflight(let headers):
            var response = Response(status: .noContent)
            Self.add(headers, to: &response.headers)
            return response
        case .deny(let refusal):
            return Self.response(for: refusal)
        }
    }

    static func response(for refusal: Refusal) -> Response {
        var headers: HTTPFields = [.contentType: Problem.mediaType]
        add(refusal.headers, to: &headers)
        return Response(
            status: .init(code: refusal.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: refusal.problem.json))
        )
    }

    static func add(_ fields: [HeaderField], to headers: inout HTTPFields) {
        for field in fields {
            if let name = HTTPField.Name(field.name) { headers.append(HTTPField(name: name, value: field.value)) }
        }
    }
}
