import Detection
import Foundation
import Logging
import MQTT
import Metrics
import Narration
import ServiceLifecycle
import Synchronization
import Telemetry

/// The retained active alarms that should be on the local broker now: sensor → the open alert's
/// bytes. The publisher updates it as it queues each alert (opened: set; resolved: removed); at start
/// it holds the events the restored detector state has open.
final class ActiveAlarms: Sendable {
    private let open: Mutex<[String: [UInt8]]>

    init(_ initial: [String: [UInt8]] = [:]) {
        open = Mutex(initial)
    }

    func opened(sensor: String, body: [UInt8]) { open.withLock { $0[sensor] = body } }
    func resolved(sensor: String) { open.withLock { _ = $0.removeValue(forKey: sensor) } }
    var count: Int { open.withLock { $0.count } }

    /// Runs `body` with the alarms held, so nothing opens or resolves while it decides.
    func withLock<T>(_ body: ([String: [UInt8]]) -> T) -> T { open.withLock { body($0) } }

    /// The open events of a restored detector, as the retained alarms a dashboard should see.
    static func restored(_ events: [AnomalyEvent], catalog: Catalog, agent: String) -> [String: [UInt8]] {
        var alarms: [String: [UInt8]] = [:]
        for event in events where event.stage == .opened {
            let text = TemplateNarrator.narrate(event, catalog: catalog)
            let alert = AlertMessage(event: event, catalog: catalog, agent: agent,
                                     narrative: Narrative(text: text, source: .template, latencyMs: 0, verified: true,
                                                          reason: "open when the agent restarted"))
            if let body = try? alert.jsonBytes() { alarms[event.sensor.rawValue] = body }
        }
        return alarms
    }
}

/// What the broker holds retained under `vigil/<agent>/active/#`, learnt by subscribing briefly.
/// While it collects, the client's tap hands it the messages of that filter as they arrive; the
/// ingest loop passes it those that come after (they are not readings).
final class RetainedAlarmCollector: Sendable {
    let prefix: String
    private let state = Mutex<(collecting: Bool, seen: [String: [UInt8]])>((false, [:]))

    init(prefix: String) {
        self.prefix = prefix
    }

    /// True when `topic` is one of the active-alarm topics (the message is then not a reading).
    func take(_ message: MQTTMessage) -> Bool {
        guard message.topic.hasPrefix(prefix) else { return false }
        guard message.retain else { return true }
        state.withLock { s in
            if s.collecting { s.seen[message.topic] = message.payload }
        }
        return true
    }

    func start() { state.withLock { $0 = (true, [:]) } }

    func stop() -> [String: [UInt8]] {
        state.withLock { s in
            let seen = s.seen
            s = (false, [:])
            return seen
        }
    }
}

/// Counts of one reconciliation.
struct AlarmReconciliation: Sendable, Equatable {
    var cleared = 0
    var republished = 0
}

/// On every connection to the local broker: learns which active alarms the broker holds retained,
/// clears those that are not open now (resolved while the agent was down, a sensor gone from the
/// catalog, a crash between an alert and its clear) and publishes those that are open but missing
/// or different (a broker that lost its retained store).
struct AlarmReconcileService: Service {
    let client: MQTTClient
    let alarms: ActiveAlarms
    let collector: RetainedAlarmCollector
    let cleared: Counter
    let republished: Counter
    let logger: Logger
    /// How long retained messages are collected after the SUBACK (the broker sends them at once).
    var window: Duration = .seconds(1)

    func run() async throws {
        for await state in client.connectionStates.cancelOnGracefulShutdown() {
            if state == .closed { break }
            guard state.isConnected else { continue }
            await reconcile()
        }
    }

    @discardableResult
    func reconcile() async -> AlarmReconciliation? {
        let filter = collector.prefix + "#"
        collector.start()
        // Taken on the network thread: a busy ingest loop cannot make the retained alarms miss the window.
        client.tap(prefix: collector.prefix) { [collector] in _ = collector.take($0) }
        defer { client.untap(prefix: collector.prefix) }
        do {
            // A year: the watchdog must not call this short-lived subscription silent.
            try await client.subscribe(filter, qos: .atLeastOnce, silenceTimeout: .seconds(31_536_000))
        } catch {
            _ = collector.stop()
            logger.warning("cannot read the retained active alarms; not reconciled", metadata: ["error": "\(error)"])
            return nil
        }
        try? await Task.sleep(for: window)
        try? await client.unsubscribe(filter)
        let retained = collector.stop()
        var result = AlarmReconciliation()
        let receipts: [MQTTPublishReceipt] = alarms.withLock { open in
            var receipts: [MQTTPublishReceipt] = []
            for (topic, payload) in retained.sorted(by: { $0.key < $1.key }) where !payload.isEmpty {
                let sensor = String(topic.dropFirst(collector.prefix.count))
                guard open[sensor] == nil else { continue }
                if let r = try? client.send(topic: topic, payload: [], qos: .atLeastOnce, retain: true) {
                    receipts.append(r)
                    result.cleared += 1
                }
            }
            for (sensor, body) in open.sorted(by: { $0.key < $1.key }) {
                // The broker holds this very event already (with the text it was first published with).
                if let held = retained[collector.prefix + sensor], let id = Self.eventID(held), id == Self.eventID(body) { continue }
                if let r = try? client.send(topic: collector.prefix + sensor, payload: body, qos: .atLeastOnce, retain: true) {
                    receipts.append(r)
                    result.republished += 1
                }
            }
            return receipts
        }
        for r in receipts { try? await r.acknowledged() }
        if result.cleared > 0 { cleared.increment(by: result.cleared) }
        if result.republished > 0 { republished.increment(by: result.republished) }
        logger.info("active alarms reconciled", metadata: [
            "retained": "\(retained.values.filter { !$0.isEmpty }.count)", "open": "\(alarms.count)",
            "cleared": "\(result.cleared)", "republished": "\(result.republished)",
        ])
        return result
    }

    private struct EventIdentity: Decodable {
        // swiftlint:disable:next identifier_name
        let event_id: String
    }

    static func eventID(_ alert: [UInt8]) -> String? {
        try? JSONDecoder().decode(EventIdentity.self, from: Data(alert)).event_id
    }
}
