public import HTTPTypes
public import Hummingbird
public import SecurityCore
import Logging
import SecurityStore

/// A refusal a route throws: it renders itself as the refusal's status, headers and problem+json
/// body, so a handler says `throw HTTPRefusal(status: 409, code: .exists, detail: "…")` instead of
/// building the response by hand.
public struct HTTPRefusal: HTTPResponseError {
    /// What is refused, and why.
    public let refusal: Refusal

    public init(_ refusal: Refusal) {
        self.refusal = refusal
    }

    /// A refusal with one of AgentHost's own problems.
    public init(status: Int, code: ProblemCode, detail: String, extensions: [String: JSONValue] = [:], headers: [HeaderField] = []) {
        self.refusal = Refusal(status: status, code: code, detail: detail, extensions: extensions, headers: headers)
    }

    /// The same, positionally: `HTTPRefusal(404, .notFound, "There is no such device.")`.
    public init(_ status: Int, _ code: ProblemCode, _ detail: String) {
        self.init(status: status, code: code, detail: detail)
    }

    /// The `503` for a store that refused: logged with its code and reason, answered without them.
    static func storeFailed(_ error: StoreError, _ context: some RequestContext) -> HTTPRefusal {
        context.logger.error("store refused", metadata: ["code": .string(error.code.description), "reason": .string(error.reason)])
        return HTTPRefusal(503, .storeUnavailable, "The store could not be reached; nothing was changed. Try again.")
    }

    public var status: HTTPResponse.Status { HTTPResponse.Status(code: refusal.status) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        SecurityResponses.response(for: refusal)
    }
}
