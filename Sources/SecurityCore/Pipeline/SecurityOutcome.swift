/// A refused request: the status, the problem body and the headers to send.
public struct Refusal: Hashable, Sendable, Error {
    /// The HTTP status code.
    public var status: Int
    /// The RFC 9457 body.
    public var problem: Problem
    /// Headers to add to the response, such as `WWW-Authenticate`.
    public var headers: [HeaderField]
    /// Who was refused, when authentication succeeded (a policy denial, a principal's rate
    /// limit): for the audit log. `nil` for refusals before or at authentication.
    public var principal: Principal?

    public init(status: Int, problem: Problem, headers: [HeaderField] = []) {
        self.status = status
        self.problem = problem
        self.headers = headers
    }

    /// A refusal with one of AgentHost's own problems (see ``Problem/init(status:code:detail:extensions:)``).
    public init(
        status: Int, code: ProblemCode, detail: String, extensions: [String: JSONValue] = [:], headers: [HeaderField] = []
    ) {
        self.init(status: status, problem: Problem(status: status, code: code, detail: detail, extensions: extensions), headers: headers)
    }
}

/// The pipeline's answer about one request.
public enum SecurityOutcome: Hashable, Sendable {
    /// Serve the request. `principal` is `nil` on public paths and for anonymous access.
    case allow(principal: Principal?, headers: [HeaderField])
    /// Answer a CORS preflight with `204 No Content` and these headers; do not run the handler.
    case preflight(headers: [HeaderField])
    /// Answer with the refusal and do not run the handler.
    ///
    /// Indirect: a refusal is twice the size of the rest, and every outcome is copied a few times
    /// on its way out of the pipeline.
    indirect case deny(Refusal)
}
