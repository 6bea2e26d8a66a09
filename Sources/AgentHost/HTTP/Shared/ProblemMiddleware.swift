import HTTPTypes
public import Hummingbird
import Logging
import SecurityCore
import Synchronization

/// Makes every error the server sends problem+json: the outermost middleware of AgentHost's router.
///
/// - An ``HTTPRefusal`` renders itself.
/// - A request no route matches is `404 not_found`; one whose path a route matches under other
///   methods is `405 method_not_allowed` with `Allow` naming them.
/// - Hummingbird's own `HTTPError`s keep their status, with a problem body.
/// - Anything else is logged and answered `500 internal_error`, without its text: an error's
///   description is for the log, not for a client.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RouteTable

    /// `routes` names the methods of each route, for `405`'s `Allow`; fill it once the router's
    /// routes are added (``RouteTable/install(_:)``).
    public init(routes: RouteTable) {
        self.routes = routes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.response(for: error, to: request, routes: routes, logger: context.logger)
        }
    }

    /// The problem+json answer to `error`, thrown while answering `request`.
    static func response(for error: any Error, to request: Request, routes: RouteTable, logger: Logger) -> Response {
        if let refusal = error as? HTTPRefusal { return SecurityResponses.response(for: refusal.refusal) }
        if let error = error as? HTTPError, error.status == .notFound {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else {
                return SecurityResponses.response(for: Refusal(status: 404, code: .notFound, detail: "No route matches this path."))
            }
            return SecurityResponses.response(
                for: Refusal(
                    status: 405, code: .methodNotAllowed, detail: "This path does not accept this method.",
                    extensions: ["allow": .array(allowed.map { .string($0) })],
                    headers: [HeaderField(name: "Allow", value: allowed.joined(separator: ", "))]
                ))
        }
        if let error = error as? any HTTPResponseError {
            let status = Int(error.status.code)
            let code = Self.code(of: error.status)
            return SecurityResponses.response(for: Refusal(status: status, code: code, detail: "\(error.status.reasonPhrase)."))
        }
        logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        return SecurityResponses.response(
            for: Refusal(status: 500, code: .internalError, detail: "The server failed to answer this request; the log has the cause."))
    }

    /// The code of an HTTP error the framework raised, by its status: the reason phrase in snake
    /// case for the statuses it raises, else `bad_request` or `internal_error` by class.
    static func code(of status: HTTPResponse.Status) -> ProblemCode {
        switch status.code {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 408: .requestTimeout
        case 413: .contentTooLarge
        case 415: .unsupportedMediaType
        case 422: .unprocessableContent
        case 431: .requestHeaderFieldsTooLarge
        case 501: .notImplemented
        case 503: .serviceUnavailable
        case 400..<500: .badRequest
        default: .internalError
        }
    }
}

/// The methods each route of a router answers, for `405 Method Not Allowed`.
///
/// Filled once, after the routes are added (the middleware that reads it is added before them);
/// read only when no route matched. Routes are matched as `PathTemplate`s, as every other path
/// rule is; a route whose path is not one (Hummingbird's `*` or `{name}.jpg`) is left out, so a
/// wrong method there is answered 404, not 405.
public final class RouteTable: Sendable {
    private let entries = Mutex<[(path: PathTemplate, methods: [String])]>([])

    public init() {}

    /// Records `routes` (a method and a path template each).
    public func install(_ routes: [(method: String, path: String)]) {
        var grouped: [String: [String]] = [:]
        var order: [String] = []
        for route in routes {
            if grouped[route.path] == nil { order.append(route.path) }
            grouped[route.path, default: []].append(route.method)
        }
        let built = order.compactMap { path in
            (try? PathTemplate(validating: path)).map { (path: $0, methods: grouped[path] ?? []) }
        }
        entries.withLock { $0 = built }
    }

    /// Every method some route answers at `path`, sorted.
    public func methods(for path: String) -> [String] {
        let found = entries.withLock { entries in
            entries.filter { $0.path.matches(path[...]) }.flatMap(\.methods)
        }
        return Array(Set(found)).sorted()
    }
}
