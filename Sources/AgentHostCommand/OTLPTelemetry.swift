import AgentHost
import CoreMetrics
import Logging
import ServiceLifecycle

#if OTLP
    import Instrumentation
    import OTel
#endif

/// Traces and metrics sent over OTLP/HTTP to a collector, for `serve --otlp-endpoint`.
///
/// The tracer is bootstrapped process-wide (`InstrumentationSystem`), since Hummingbird's
/// `TracingMiddleware` records through it. The metrics factory is not: ``AgentHostMetrics`` records
/// into it beside the registry `GET /metrics` serves. swift-otel reads the standard
/// `OTEL_EXPORTER_OTLP_*` variables (headers, protocol, certificates) and the `OTEL_BSP_*` and
/// `OTEL_METRIC_EXPORT_*` intervals; its own diagnostics go through `logger`, and so through the
/// redactor. Logs are not exported: they stay on standard error.
struct OTLPTelemetry {
    /// Where the metrics go besides `GET /metrics`.
    let metrics: any MetricsFactory
    /// The exporters, to run beside the server.
    let services: [any Service]

    #if OTLP
        init(endpoint: String, logger: Logger) throws {
            var configuration = OTel.Configuration.default
            configuration.serviceName = "agenthost"
            configuration.diagnosticLogger = .custom(logger)
            configuration.logs.enabled = false
            configuration.traces.otlpExporter.endpoint = endpoint + "/v1/traces"
            configuration.metrics.otlpExporter.endpoint = endpoint + "/v1/metrics"
            let traces = try OTel.makeTracingBackend(configuration: configuration)
            let metrics = try OTel.makeMetricsBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(traces.factory)
            self.metrics = metrics.factory
            self.services = [traces.service, metrics.service]
            logger.info("sending traces and metrics over OTLP", metadata: ["endpoint": "\(endpoint)"])
        }
    #else
        /// This build has no exporter (built without the `OTLP` trait): asking for one is an error.
        init(endpoint: String, logger: Logger) throws {
            throw AgentHostError(.configuration, "--otlp-endpoint: this agenthost was built without the OTLP trait")
        }
    #endif
}
