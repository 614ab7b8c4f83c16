import Metrics
import Synchronization

/// The `# HELP` text of every metric the agent exposes. swift-metrics' factory API carries no help
/// text, so `/metrics` adds these lines to the registry's exposition (`MetricsHelp.annotate`).
enum MetricsHelp {
    static let text: [String: String] = [
        "vigil_readings_total": "Readings accepted by the pipeline (one per value; a Sparkplug B message may carry many).",
        "vigil_readings_rejected_total": "Readings refused, by reason.",
        "vigil_events_total": "Anomaly events opened, by kind.",
        "vigil_events_resolved_total": "Anomaly events resolved.",
        "vigil_sparkplug_rebirth_requests_total": "Sparkplug B rebirth requests (NCMD Node Control/Rebirth) sent for unknown aliases.",
        "vigil_alerts_published_total": "Alerts acknowledged by the local broker.",
        "vigil_alert_publish_retries_total": "Alert publishes retried after a failed send or a missing PUBACK.",
        "vigil_alerts_dropped_total": "Alerts dropped: local backlog full while the broker was unreachable, or not encodable.",
        "vigil_narrations_total": "Alert narratives, by source (model or template).",
        "vigil_narration_latency_seconds": "Time from an event's submission to its narrative.",
        "vigil_narration_dropped_total": "Events dropped from the narration queue when it was full (narrated by the template).",
        "vigil_narration_queue_depth": "Events waiting for narration.",
        "vigil_detection_latency_seconds": "Time to decode and run detection on one message.",
        "vigil_mqtt_received_total": "Messages received from the local broker.",
        "vigil_mqtt_inbound_dropped_total": "Inbound messages dropped because the ingest buffer was full.",
        "vigil_alarm_rate_10m": "Alerts opened in the last 10 minutes (ISA-18.2 / EEMUA 191: about 1 is acceptable for one operator, more than 10 is a flood).",
        "vigil_alarm_flood": "1 while more than 10 alerts opened in the last 10 minutes (an alarm flood).",
        "vigil_alarm_floods_total": "Alarm floods begun (more than 10 alerts within 10 minutes).",
        "vigil_alarm_chattering_total": "Alerts that were a sensor's third or later opening within 60 s (chattering).",
        "vigil_alarms_standing": "Alerts open for more than 24 hours (standing alarms).",
        "vigil_mqtt_rate_limited_total": "Inbound messages dropped on arrival because their topic exceeded ingest.max_rate_per_topic.",
        "vigil_mqtt_reconnects_total": "Reconnections to a broker, by link.",
        "vigil_mqtt_connected": "1 while connected to the broker, by link.",
        "vigil_mqtt_silent_subscriptions": "Subscriptions that have received nothing within the silence timeout.",
        "vigil_outbox_depth": "Upstream events waiting in the outbox.",
        "vigil_outbox_bytes": "Bytes of the upstream events waiting in the outbox.",
        "vigil_outbox_sent_total": "Upstream events acknowledged by the upstream broker.",
        "vigil_outbox_dropped_total": "Upstream events dropped by the outbox's bounds (rows, bytes, age).",
        "vigil_outbox_corrupt_files_moved_total": "Corrupt outbox database files moved aside.",
        "vigil_outbox_newer_schema_files_moved_total": "Outbox files of a newer release moved aside at open.",
        "vigil_outbox_schema_migrations_total": "Outbox schema migrations done at open.",
        "vigil_detector_state_restored": "1 when this start restored a saved detector state, else 0.",
        "vigil_detector_state_discarded_total": "Saved detector states not used, by reason.",
        "vigil_narration_model_share": "Share of verified model text among the narrations the model was asked for, over narration.drift.window (drift watch).",
        "vigil_narration_latency_p95_seconds": "95th percentile of narration latency over narration.drift.window.",
        "vigil_narration_window_narrations": "Narrations the model was asked for within narration.drift.window.",
        "vigil_narration_drift_warning": "1 while a narration figure is past its floor (model_share below narration.drift.min_model_share, latency_p95 above max_latency_p95).",
        "vigil_narration_fallbacks_total": "Template text where model text was asked for, by reason: deadline, model_failed, no_model, verifier_<class>.",
        "vigil_narration_escalations_total": "Alerts sent to the plant's larger model (narration.escalate), by outcome: accepted, rejected (failed the verifier), refused, timeout, unreachable, error.",
        "vigil_model_info": "1 for the model that narrates: bundle name and version, and source (bundle: signed and verified; file: narration.model).",
        "vigil_model_bundle_refused_total": "Model bundles refused at start, by reason (bad_signature, hash_mismatch, untrusted_key, ...); the previous bundle or the template narrates instead.",
        "vigil_detector_state_saves_total": "Detector state saves.",
        "vigil_detector_state_save_failures_total": "Detector state saves that failed.",
        "vigil_detector_state_last_save_timestamp_seconds": "When the detector state was last saved (seconds since 1970).",
        "vigil_reconciled_alarms_total": "Retained active alarms reconciled at start, by action (cleared or republished).",
        "vigil_reconciled_incidents_total": "Upstream incidents left open by an earlier run and resolved at start.",
    ]

    /// The help of a metric missing from `text` (so the exposition stays valid).
    static func fallback(_ name: String) -> String { "Vigil metric \(name)." }

    /// The exposition with a `# HELP` line before each `# TYPE` line that has none.
    static func annotate(_ exposition: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + 4096)
        var previousWasHelp = false
        for line in exposition.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: "# TYPE ".utf8), !previousWasHelp {
                let name = String(decoding: line.dropFirst(7).prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                out += "# HELP \(name) \(text[name] ?? fallback(name))\n".utf8
            }
            previousWasHelp = line.starts(with: "# HELP ".utf8)
            out += line
            out.append(UInt8(ascii: "\n"))
        }
        out.removeLast()   // one newline was added per line, and the split's last line ends none
        return out
    }
}

/// A Prometheus counter fed with a running total kept elsewhere (the MQTT client's and the outbox's
/// statistics): it adds what the total grew by since the last reading, so it only ever goes up.
final class CumulativeCounter: Sendable {
    private let counter: Counter
    private let last = Mutex<Int64?>(nil)

    init(_ counter: Counter) {
        self.counter = counter
    }

    func record<T: BinaryInteger>(total: T) {
        let total = Int64(clamping: total)
        let grown: Int64 = last.withLock { last in
            defer { last = total }
            guard let previous = last else { return total }
            return total > previous ? total - previous : 0
        }
        if grown > 0 { counter.increment(by: grown) }
    }
}
