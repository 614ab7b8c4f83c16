import Detection
import Metrics
import Synchronization
import Telemetry

/// The agent's metrics, made once (so the ingest path only increments existing counters).
/// They are created on the factory the agent is given — the Prometheus registry behind /metrics —
/// so neither this library nor its tests touch the global metrics system.
public struct AgentMetrics: Sendable {
    let readings: Counter
    let rejected: [DecodeFailure: Counter]
    let events: [AnomalyKind: Counter]
    let resolved: Counter
    let rebirthRequests: Counter
    let alertsPublished: Counter
    let alertPublishRetries: Counter
    let alertsDropped: Counter
    let narrationBySource: [String: Counter]
    let narrationLatency: Metrics.Timer
    let narrationDropped: Counter
    let narrationQueue: Gauge
    let detectionLatency: Metrics.Timer
    let mqttReceived: CumulativeCounter
    let mqttDropped: CumulativeCounter
    let mqttRateLimited: CumulativeCounter
    let reconnects: [String: CumulativeCounter]
    let connected: [String: Gauge]
    let silentSubscriptions: Gauge
    let outboxDepth: Gauge
    let outboxBytes: Gauge
    let outboxSent: CumulativeCounter
    let outboxDropped: CumulativeCounter
    let outboxCorruptFiles: CumulativeCounter
    /// Alarm health as it stands (ISA-18.2 / EEMUA 191), fed by the ingest loop, exposed every few seconds.
    let alarmHealth = LiveAlarmHealth()
    let alarmsRecent: Gauge
    let alarmInFlood: Gauge
    let alarmFloods: CumulativeCounter
    let alarmChattering: CumulativeCounter
    let alarmsStanding: Gauge

    public init(factory: any MetricsFactory) {
        func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: label, dimensions: dimensions, factory: factory)
        }
        func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> Gauge {
            Gauge(label: label, dimensions: dimensions, factory: factory)
        }
        func timer(_ label: String) -> Metrics.Timer {
            Metrics.Timer(label: label, dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
        }
        readings = counter("vigil_readings_total")
        rejected = Dictionary(uniqueKeysWithValues: DecodeFailure.allCases.map {
            ($0, counter("vigil_readings_rejected_total", [("reason", $0.rawValue)]))
        })
        events = Dictionary(uniqueKeysWithValues: AnomalyKind.allCases.map {
            ($0, counter("vigil_events_total", [("kind", $0.rawValue)]))
        })
        resolved = counter("vigil_events_resolved_total")
        rebirthRequests = counter("vigil_sparkplug_rebirth_requests_total")
        alertsPublished = counter("vigil_alerts_published_total")
        alertPublishRetries = counter("vigil_alert_publish_retries_total")
        alertsDropped = counter("vigil_alerts_dropped_total")
        narrationBySource = Dictionary(uniqueKeysWithValues: ["model", "template", "escalated"].map {
            ($0, counter("vigil_narrations_total", [("source", $0)]))
        })
        narrationLatency = timer("vigil_narration_latency_seconds")
        narrationDropped = counter("vigil_narration_dropped_total")
        narrationQueue = gauge("vigil_narration_queue_depth")
        detectionLatency = Metrics.Timer(label: "vigil_detection_latency_seconds", dimensions: [], preferredDisplayUnit: .seconds,
                                         factory: Self.withDetectionLatencyBuckets(factory))
        // Running totals kept by the MQTT client and the outbox, exposed as counters (`_total`): a
        // dashboard's increase()/rate() handles their reset to 0 when the agent restarts.
        func cumulative(_ label: String, _ dimensions: [(String, String)] = []) -> CumulativeCounter {
            CumulativeCounter(counter(label, dimensions))
        }
        mqttReceived = cumulative("vigil_mqtt_received_total", [("link", "local")])
        mqttDropped = cumulative("vigil_mqtt_inbound_dropped_total", [("link", "local")])
        mqttRateLimited = cumulative("vigil_mqtt_rate_limited_total", [("link", "local")])
        reconnects = Dictionary(uniqueKeysWithValues: ["local", "upstream"].map {
            ($0, cumulative("vigil_mqtt_reconnects_total", [("link", $0)]))
        })
        connected = Dictionary(uniqueKeysWithValues: ["local", "upstream"].map { ($0, gauge("vigil_mqtt_connected", [("link", $0)])) })
        silentSubscriptions = gauge("vigil_mqtt_silent_subscriptions")
        outboxDepth = gauge("vigil_outbox_depth")
        outboxBytes = gauge("vigil_outbox_bytes")
        outboxSent = cumulative("vigil_outbox_sent_total")
        outboxDropped = cumulative("vigil_outbox_dropped_total")
        outboxCorruptFiles = cumulative("vigil_outbox_corrupt_files_moved_total")
        alarmsRecent = gauge("vigil_alarm_rate_10m")
        alarmInFlood = gauge("vigil_alarm_flood")
        alarmFloods = cumulative("vigil_alarm_floods_total")
        alarmChattering = cumulative("vigil_alarm_chattering_total")
        alarmsStanding = gauge("vigil_alarms_standing")
    }

    /// The alarm-health figures at `now` (epoch ms) onto their metrics.
    func updateAlarmHealth(now: Int64) {
        let (recent, inFlood, floods, chattering, standing) = alarmHealth.state.withLock { w in
            w.advance(to: now)
            return (w.recent, w.inFlood, w.floods, w.chattering, w.standing(at: now))
        }
        alarmsRecent.record(recent)
        alarmInFlood.record(inFlood ? 1 : 0)
        alarmFloods.record(total: floods)
        alarmChattering.record(total: chattering)
        alarmsStanding.record(standing)
    }
}

/// The live agent's `AlarmHealthWindow`, shared by the ingest loop (which records) and the status loop.
final class LiveAlarmHealth: Sendable {
    let state = Mutex(AlarmHealthWindow())

    func record(_ event: AnomalyEvent, at now: Int64) {
        state.withLock { $0.record(event, at: now) }
    }
}
