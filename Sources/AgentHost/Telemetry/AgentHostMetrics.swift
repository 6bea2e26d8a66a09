public import CoreMetrics
public import Prometheus
import Synchronization

/// AgentHost's metrics, kept in a Prometheus registry of their own (no process-wide bootstrap,
/// so two servers or two tests never share counts) through swift-metrics' API, and served as
/// Prometheus text at `GET /metrics`, each with the `# HELP` line of ``help``: the security
/// pipeline's counters, and a request-duration histogram by route, method and status
/// (`RequestMetricsMiddleware`). Given another factory (an OTLP exporter's), every metric is
/// recorded there too.
public final class AgentHostMetrics: Sendable {
    /// Where the counters live.
    public let registry: PrometheusCollectorRegistry
    private let factory: any MetricsFactory
    /// Counters by name and labels, made once: making one takes the registry's lock.
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])

    /// `agenthost_requests_total{outcome="allowed"}`, made up front: it is counted on every
    /// allowed request, so it skips the lookup.
    private let allowed: CoreMetrics.Counter

    /// `http_server_active_requests`: requests whose handler is running (OpenTelemetry's
    /// `http.server.active_requests`), what a drain waits for.
    private let active: CoreMetrics.Meter

    /// Metrics in `registry`, and in `exporter` too when one is given.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), exporter: (any MetricsFactory)? = nil) {
        self.registry = registry
        var prometheus = PrometheusMetricsFactory(registry: registry)
        // Most answers take about a millisecond: the default buckets start at 5 ms.
        prometheus.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ]
        // A proxied call lasts as long as its upstream takes: an LLM's answer streams for seconds to minutes.
        prometheus.durationHistogramBuckets["agenthost_proxy_request_duration_seconds"] = [
            .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(2), .seconds(5),
            .seconds(10), .seconds(30), .seconds(60), .seconds(300),
        ]
        self.factory = exporter.map { MultiplexMetricsHandler(factories: [prometheus, $0]) } ?? prometheus
        self.allowed = CoreMetrics.Counter(label: "agenthost_requests_total", dimensions: [("outcome", "allowed")], factory: factory)
        self.active = CoreMetrics.Meter(label: "http_server_active_requests", dimensions: [], factory: factory)
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

    /// Records one answered request (`RequestMetricsMiddleware`).
    /// A request's handler began.
    func requestBegan() { active.increment() }

    /// A request's handler returned or threw.
    func requestEnded() { active.decrement() }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKind(route: route, method: method, status: status)
        let timer =
            durations.withLock { $0[key] }
            ?? {
                let made = CoreMetrics.Timer(
                    label: "http_server_request_duration_seconds",
                    dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
                durations.withLock { $0[key] = made }
                return made
            }()
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private struct RequestKind: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// One histogram per route template, method and status seen: bounded by the routes.
    private let durations = Mutex<[RequestKind: CoreMetrics.Timer]>([:])

    /// Records one proxied call: `agenthost_proxy_requests_total{upstream,status}` (by status
    /// class, `2xx`...), `agenthost_proxy_bytes_total{upstream,direction}` and the duration
    /// histogram `agenthost_proxy_request_duration_seconds{upstream}`. Upstream names come from the
    /// configuration, so the labels are bounded.
    func recordProxyCall(upstream: String, status: Int, sent: Int, received: Int, duration: Duration) {
        let key = ProxyKind(upstream: upstream, statusClass: status / 100)
        let found = proxyMetrics.withLock { $0[key] }
        let metrics =
            found
            ?? {
                let made = ProxyMetrics(
                    calls: counter("agenthost_proxy_requests_total", [("upstream", upstream), ("status", "\(status / 100)xx")]),
                    sent: counter("agenthost_proxy_bytes_total", [("upstream", upstream), ("direction", "sent")]),
                    received: counter("agenthost_proxy_bytes_total", [("upstream", upstream), ("direction", "received")]),
                    duration: CoreMetrics.Timer(
                        label: "agenthost_proxy_request_duration_seconds", dimensions: [("upstream", upstream)], factory: factory)
                )
                proxyMetrics.withLock { $0[key] = made }
                return made
            }()
        metrics.calls.increment()
        if sent > 0 { metrics.sent.increment(by: sent) }
        if received > 0 { metrics.received.increment(by: received) }
        let (seconds, attoseconds) = duration.components
        metrics.duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private struct ProxyKind: Hashable {
        let upstream: String
        let statusClass: Int
    }

    /// The metrics of one upstream's calls of one status class, made once and found again without
    /// building a key (building the keys of four metrics per call was 1 % of the proxy's CPU).
    private struct ProxyMetrics {
        let calls: CoreMetrics.Counter
        let sent: CoreMetrics.Counter
        let received: CoreMetrics.Counter
        /// The histogram is the upstream's, whatever the status.
        let duration: CoreMetrics.Timer
    }

    /// Bounded by the upstreams (times five status classes).
    private let proxyMetrics = Mutex<[ProxyKind: ProxyMetrics]>([:])

    /// Adds `amount` to the counter `name` with `dimensions`.
    func increment(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        counter(name, dimensions).increment(by: amount)
    }

    /// Sets the gauge `name` to `value`.
    func set(_ name: String, _ value: Int) {
        let gauge = gauges.withLock { gauges in
            if let gauge = gauges[name] { return gauge }
            let gauge = CoreMetrics.Gauge(label: name, dimensions: [], factory: factory)
            gauges[name] = gauge
            return gauge
        }
        gauge.record(value)
    }

    private let gauges = Mutex<[String: CoreMetrics.Gauge]>([:])

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
        "http_server_active_requests": "Requests being handled now: begun, not yet answered.",
        "http_server_request_duration_seconds": "Time from a request's arrival to its answer, by route template, method and status.",
        "agenthost_proxy_requests_total": "Calls proxied to an upstream, by upstream and status class of the answer.",
        "agenthost_proxy_bytes_total": "Body bytes proxied, by upstream and direction (sent to the upstream, received from it).",
        "agenthost_proxy_request_duration_seconds": "Time from a proxied call's arrival to the end of its answer, by upstream.",
        "agenthost_rate_limit_reconciliations_total":
            "Reconciliations of shared rate-limit budgets with the store, by outcome (ok, failed).",
        "agenthost_rate_limit_servers": "Servers sharing the rate-limit budgets, as this one last saw them.",
        "agenthost_rate_limit_isolated": "1 while this server cannot reach the shared budgets and keeps to its share of each limit.",
        "agenthost_revocation_notices_total": "Revocations announced by a server sharing the store (PostgreSQL LISTEN/NOTIFY).",
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
