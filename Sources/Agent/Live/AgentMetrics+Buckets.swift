import Metrics
import Prometheus

extension AgentMetrics {
    /// Deciding on one reading takes microseconds: Prometheus' default buckets (5 ms to 10 s) would put
    /// every reading in the first one. 1 µs to 10 ms, three buckets a decade.
    public static let detectionLatencyBuckets: [Duration] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000]
        .map { .microseconds($0) }

    /// The factory, with those buckets for `vigil_detection_latency_seconds` when it is Prometheus'.
    static func withDetectionLatencyBuckets(_ factory: any MetricsFactory) -> any MetricsFactory {
        guard var prometheus = factory as? PrometheusMetricsFactory else { return factory }
        prometheus.durationHistogramBuckets["vigil_detection_latency_seconds"] = detectionLatencyBuckets
        return prometheus
    }
}
