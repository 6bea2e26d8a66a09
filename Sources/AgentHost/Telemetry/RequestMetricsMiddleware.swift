import HTTPTypes
import Hummingbird

/// Times every request into `http_server_request_duration_seconds`, a histogram by route template
/// (never the raw path), method and status, in ``AgentHostMetrics``, and counts those being
/// handled in `http_server_active_requests`.
///
/// Hummingbird's `MetricsMiddleware` records the same after the response body is written, through
/// a post-write closure. Measured under `scripts/loadtest`, that cost 8 to 10 µs of server CPU per
/// request, about 15 % of the requests a server answers (Docs/BENCHMARKS.md). This one records when
/// the handler returns. AgentHost's answers are buffers written at once, so that moment is the end
/// of the request to within one write; a streamed answer (the system stream) is timed to its start.
///
/// A refusal thrown below it is timed with its own status. Every label is bounded, so a client
/// cannot grow the registry: a route that does not exist is `NotFound`, and a method outside HTTP's
/// registered ones is `_OTHER` (OpenTelemetry's convention).
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: AgentHostMetrics

    init(metrics: AgentHostMetrics) {
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requestBegan()
        defer { metrics.requestEnded() }
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, since: start)
            return response
        } catch {
            record(request, context, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        let method = registeredMethods.contains(request.method) ? request.method.rawValue : "_OTHER"
        metrics.recordRequest(
            route: context.endpointPath ?? "NotFound", method: method, status: status, duration: ContinuousClock.now - start)
    }
}

/// HTTP's registered methods: any other is labelled `_OTHER`.
private let registeredMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .connect, .options, .trace, .patch]
