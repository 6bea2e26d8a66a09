public import SecurityCore
import Synchronization

/// Whether the server can serve: `GET /health/ready` answers `200` when it can and `503` when its
/// store is unreachable or has migrations pending, so a load balancer stops sending it traffic.
/// `GET /health` stays liveness: it answers `200` whenever the process runs.
///
/// A probe runs the check at most once a second; probes in between get the last answer.
public final class ReadinessCheck: Sendable {
    /// The route.
    public static let path = "/health/ready"

    private let check: @Sendable () async throws -> Void
    private let ticks: any TickSource
    private let last: Mutex<(at: Int64, problem: String?)?> = Mutex(nil)

    /// A check that throws, with a reason safe to show, when the server cannot serve; answers are
    /// kept for a second of `ticks`.
    public init(ticks: any TickSource = SystemTickSource(), _ check: @escaping @Sendable () async throws -> Void) {
        self.check = check
        self.ticks = ticks
    }

    /// `nil` when ready, else why not.
    func problem() async -> String? {
        let now = ticks.nanoseconds()
        if let last = last.withLock({ $0 }), now - last.at < 1_000_000_000 { return last.problem }
        var problem: String?
        do {
            try await check()
        } catch let error as any CodedError {
            problem = error.reason
        } catch {
            problem = "the store cannot be reached"
        }
        last.withLock { $0 = (now, problem) }
        return problem
    }
}
