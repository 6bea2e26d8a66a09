/// A refused request: the status, the problem body and the headers to send.
public struct Refusal: Hashable, Sendable, Error {
    /// The HTTP status code.
    public var status: Int
    /// The RFC 9457 body.
    public var problem: Problem
    /// Headers to add to the response, such as `WWW-Authenticate`.
    public var headers: [HeaderField]

    public init(status: Int, problem: Problem, headers: [HeaderField] = []) {
        self.status = status
        self.problem = problem
        self.headers = headers
    }
}

/// The pipeline's answer about one request.
public enum SecurityOutcome: Hashable, Sendable {
    /// Serve the request. `principal` is `nil` on public paths that need no credential.
    case allow(principal: Principal?, headers: [HeaderField])
    /// Answer with the refusal and do not run the handler.
    case deny(Refusal)
}
