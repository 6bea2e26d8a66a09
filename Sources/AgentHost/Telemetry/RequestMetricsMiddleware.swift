import HTTPTypes
import Hummingbird

/// AgentHost's outermost middleware, two jobs that always run together in one layer (each layer of
/// the chain is an async frame and a closure per request): it times every request into
/// `http_server_request_duration_seconds`, a histogram by route template (never the raw path),
/// method and status, counts those being handled in `http_server_active_requests`, and, as
/// ``ProblemMiddleware`` does, makes every error thrown below it problem+json.
///
/// Hummingbird's `MetricsMiddleware` records the same after the response body is written, through
/// a post-write closure. Measured under `scripts/loadtest`, that cost 8 to 10 µs of server CPU per
/// request, about 15 % of the requests a server answers (Docs/BENCHMARKS.md). This one records when
/// the handler returns. AgentHost's answers are buffers written at once, so that moment is the end
/// of the request to within one write; a streamed answer (the system stream) is timed to its start.
///
/// A refusal thrown below it is timed with the status of its problem. Every label is bounded, so a
/// client cannot grow the registry: a route that does not exist is `NotFound`, and a method outside
/// HTTP's registered ones is `_OTHER` (OpenTelemetry's convention).
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: AgentHostMetrics
    /// The methods of each route, for `405`'s `Allow`.
    let routes: RouteTable

    init(metrics: AgentHostMetrics, routes: RouteTable) {
        self.metrics = metrics
        self.routes = routes
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requestBegan()
        defer { metrics.requestEnded() }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ProblemMiddleware<Context>.response(for: error, to: request, routes: routes, logger: context.logger)
        }
        let method = registeredMethods.contains(request.method) ? request.method.rawValue : "_OTHER"
        metrics.recordRequest(
            route: context.endpointPath ?? "NotFound", method: method, status: response.status.code, duration: ContinuousClock.now - start)
        return response
    }
}

/// HTTP's registered methods: any other is labelled `_OTHER`.
private let registeredMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .connect, .options, .trace, .patch]
