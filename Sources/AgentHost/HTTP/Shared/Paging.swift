import Hummingbird
import SecurityCore

/// `after` and `limit` of a paged listing: `after` a number from 0 (default 0), `limit` 1-500
/// (default 100).
enum Paging {
    static func parse(_ query: Parameters) -> (after: Int64, limit: Int)? {
        let after = query["after"].map { Int64(String($0)) } ?? 0
        let limit = query["limit"].map { Int(String($0)) } ?? 100
        guard let after, let limit, after >= 0, (1...500).contains(limit) else { return nil }
        return (after, limit)
    }

    /// The `400` for a bad `after` or `limit`; `what` names what `after` counts.
    static func refusal(_ what: String) -> HTTPRefusal {
        HTTPRefusal(400, .invalidRequest, "after must be \(what) and limit 1-500.")
    }
}
