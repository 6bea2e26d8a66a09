import HTTPTypes
import Hummingbird
import SecurityCore

extension SecurityMiddleware {
    /// `GET /auth/verify`: 200 with the verified identity headers, or the refusal.
    func forwardAuth(_ facts: RequestFacts, pipeline: SecurityPipeline, context: Context) -> Response {
        switch pipeline.evaluateForwardAuth(facts) {
        case .allow(_, let headers), .preflight(let headers):
            var response = Response(status: .ok, headers: [.cacheControl: "no-store"])
            SecurityResponses.append(headers, to: &response.headers)
            return response
        case .deny(let refusal):
            log(refusal, facts, context)
            return SecurityResponses.response(for: refusal)
        }
    }
}
