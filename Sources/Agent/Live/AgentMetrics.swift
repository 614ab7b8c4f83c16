import Detection
import Metrics
import Telemetry

/// The agent's metrics, made once (so the ingest path only increments existing counters).
/// The executable bootstraps the metrics backend (Prometheus); this library never does.
public struct AgentMetrics: Sendable {
    let readings = Counter(label: "vigil_readings_total")
    let rejected: [DecodeFailure: Counter]
    let events: [AnomalyKind: Counter]
    let resolved = Counter(label: "vigil_events_resolved_total")
    let alertsPublished = Counter(label: "vigil_alerts_published_total")
    let alertPublishRetries = Counter(label: "vigil_alert_publish_retries_total")
    let alertsDropped = Counter(label: "vigil_alerts_dropped_total")
    let narrationBySource: [String: Counter]
    let narrationLatency = Metrics.Timer(label: "vigil_narration_latency_seconds", preferredDisplayUnit: .seconds)
    let narrationDropped = Counter(label: "vigil_narration_dropped_total")
    let narrationQueue = Gauge(label: "vigil_narration_queue_depth")
    let detectionLatency = Metrics.Timer(label: "vigil_detection_latency_seconds", preferredDisplayUnit: .seconds)
    let mqttReceived = Gauge(label: "vigil_mqtt_received", dimensions: [("link", "local")])
    let mqttDropped = Gauge(label: "vigil_mqtt_inbound_dropped", dimensions: [("link", "local")])
    let reconnects: [String: Gauge]
    let connected: [String: Gauge]
    let silentSubscriptions = Gauge(label: "vigil_mqtt_silent_subscriptions")
    let outboxDepth = Gauge(label: "vigil_outbox_depth")
    let outboxBytes = Gauge(label: "vigil_outbox_bytes")
    let outboxSent = Gauge(label: "vigil_outbox_sent")
    let outboxDropped = Gauge(label: "vigil_outbox_dropped")
    let outboxCorruptFiles = Gauge(label: "vigil_outbox_corrupt_files_moved")

    public init() {
        var rejected: [DecodeFailure: Counter] = [:]
        for reason in DecodeFailure.allCases {
            rejected[reason] = Counter(label: "vigil_readings_rejected_total", dimensions: [("reason", reason.rawValue)])
        }
        self.rejected = rejected
        var events: [AnomalyKind: Counter] = [:]
        for kind in AnomalyKind.allCases {
            events[kind] = Counter(label: "vigil_events_total", dimensions: [("kind", kind.rawValue)])
        }
        self.events = events
        narrationBySource = Dictionary(uniqueKeysWithValues: ["model", "template"].map {
            ($0, Counter(label: "vigil_narrations_total", dimensions: [("source", $0)]))
        })
        reconnects = Dictionary(uniqueKeysWithValues: ["local", "upstream"].map {
            ($0, Gauge(label: "vigil_mqtt_reconnects", dimensions: [("link", $0)]))
        })
        connected = Dictionary(uniqueKeysWithValues: ["local", "upstream"].map {
            ($0, Gauge(label: "vigil_mqtt_connected", dimensions: [("link", $0)]))
        })
    }
}
