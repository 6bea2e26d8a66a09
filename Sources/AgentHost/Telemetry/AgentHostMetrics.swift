import CoreMetrics
public import Prometheus
import Synchronization

/// AgentHost's counters, kept in a Prometheus registry of their own (no process-wide bootstrap,
/// so two servers or two tests never share counts) through swift-metrics' API, and served as
/// Prometheus text at `GET /metrics`, each with the `# HELP` line of ``help``.
///
/// Hummingbird's `MetricsMiddleware` is not installed: with swift-metrics bootstrapped on this
/// registry it cost about 20 µs of server CPU per request under `scripts/loadtest` (a third of a
/// request; Docs/BENCHMARKS.md).
public final class AgentHostMetrics: Sendable {
    /// Where the counters live.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    /// Counters by name and labels, made once: making one takes the registry's lock.
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])

    /// `agenthost_requests_total{outcome="allowed"}`, made up front: it is counted on every
    /// allowed request, so it skips the lookup.
    private let allowed: CoreMetrics.Counter

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.factory = PrometheusMetricsFactory(registry: registry)
        self.allowed = CoreMetrics.Counter(label: "agenthost_requests_total", dimensions: [("outcome", "allowed")], factory: factory)
    }

    /// Counts one allowed request.
    func countAllowed() {
        allowed.increment()
    }

    /// Counts one refused request: `agenthost_requests_total{outcome="refused",status}`, plus
    /// `agenthost_auth_failures_total{reason}` for a 401 and `agenthost_rate_limited_total{scope}`
    /// for a 429 with a scope. The counters of each kind of refusal are made once and found again
    /// without building a key, so a flood of refusals costs little.
    func countRefused(status: Int, code: String, scope: String?) {
        let key = RefusalKind(status: status, code: code, scope: scope)
        let found = refusals.withLock { $0[key] }
        let counters =
            found
            ?? {
                var made = [counter("agenthost_requests_total", [("outcome", "refused"), ("status", String(status))])]
                if status == 401 { made.append(counter("agenthost_auth_failures_total", [("reason", code)])) }
                if status == 429, let scope { made.append(counter("agenthost_rate_limited_total", [("scope", scope)])) }
                refusals.withLock { $0[key] = made }
                return made
            }()
        for counter in counters { counter.increment() }
    }

    private struct RefusalKind: Hashable {
        let status: Int
        let code: String
        let scope: String?
    }

    /// The counters of each kind of refusal seen; at most one entry per status, problem code and scope.
    private let refusals = Mutex<[RefusalKind: [CoreMetrics.Counter]]>([:])

    /// Adds `amount` to the counter `name` with `dimensions`.
    func increment(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        counter(name, dimensions).increment(by: amount)
    }

    /// The counter `name` with `dimensions`, made on first use.
    private func counter(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        let key = dimensions.reduce(name) { $0 + "|" + $1.0 + "=" + $1.1 }
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    /// What each metric counts: its `# HELP` text. Metrics made through swift-metrics carry none,
    /// so ``exposition()`` adds these. A metric missing here fails `metricsHaveHelpAndNoRawPaths`.
    public static let help: [String: String] = [
        "agenthost_requests_total": "Requests the security pipeline decided, by outcome (allowed, refused, preflight) and status.",
        "agenthost_auth_failures_total": "Requests refused with 401, by the problem code.",
        "agenthost_rate_limited_total": "Requests refused with 429, by rate-limit scope.",
        "agenthost_vault_operations_total": "Vault operations, by kind (set, delete, release, onboard).",
        "agenthost_audit_appends_total": "Records appended to the audit chain.",
        "agenthost_connections_closed_total": "Connections the server closed itself, by reason.",
    ]

    /// Every metric in the Prometheus text format, each with a `# HELP` line.
    public func exposition() -> [UInt8] {
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        var output = ""
        output.reserveCapacity(text.utf8.count + 1024)
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first, let help = Self.help[String(name)] {
                output += "# HELP \(name) \(help)\n"
            }
            output += line + "\n"
        }
        return Array(output.utf8)
    }
}
