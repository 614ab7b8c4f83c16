import Detection
import Logging
import MQTT
import Metrics
import Narration
import ServiceLifecycle
import Synchronization
import Telemetry

/// Readings from the local broker through the pipeline; events to narration. Never waits for
/// narration or publishing. A one-second tick advances the clock for silence detection.
struct IngestService: Service {
    let client: MQTTClient
    let pipeline: SharedPipeline
    let worker: NarrationWorker
    let metrics: AgentMetrics
    let logger: Logger
    let rejections = RejectionLog()
    let rebirths = RebirthLimiter()
    /// Takes the messages of the active-alarm topics (subscribed briefly to reconcile them).
    let retainedAlarms: RetainedAlarmCollector?

    init(client: MQTTClient, pipeline: SharedPipeline, worker: NarrationWorker, metrics: AgentMetrics,
         retainedAlarms: RetainedAlarmCollector? = nil, logger: Logger) {
        self.client = client
        self.retainedAlarms = retainedAlarms
        self.pipeline = pipeline
        self.worker = worker
        self.metrics = metrics
        self.logger = logger
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.ingest() }
            group.addTask { await self.tick() }
            await group.next()
            group.cancelAll()
        }
    }

    private func ingest() async {
        for await message in client.messages.cancelOnGracefulShutdown() {
            if let retainedAlarms, retainedAlarms.take(message) { continue }
            let started = ContinuousClock.now
            let now = wallClockMillis()
            let (events, accepted, refused, rebirth) = pipeline.withLock { p in
                let before = p.statistics
                let events = p.ingest(topic: message.topic, payload: message.payload, receivedAt: now)
                // One message may carry many readings (Sparkplug B): count readings, not messages.
                let after = p.statistics
                var refused: [(DecodeFailure, Int)] = []
                if after.rejectedTotal != before.rejectedTotal {
                    for (reason, count) in after.rejected where count != before.rejected[reason, default: 0] {
                        refused.append((reason, count - before.rejected[reason, default: 0]))
                    }
                }
                return (events, after.readings - before.readings, refused, p.rebirthNeeded)
            }
            for (reason, count) in refused {
                metrics.rejected[reason]?.increment(by: count)
                rejections.note(reason, topic: message.topic, logger: logger)
            }
            if let rebirth { requestRebirth(rebirth) }
            if accepted > 0 { metrics.readings.increment(by: accepted) }
            // The events of a message's good readings go on even when some of its readings were refused.
            hand(events)
            if accepted > 0 {
                metrics.detectionLatency.recordNanoseconds(Int64((ContinuousClock.now - started).nanoseconds))
            }
        }
    }

    /// Asks a Sparkplug B edge node for a new birth (NCMD `Node Control/Rebirth`), at most once per
    /// `RebirthLimiter.interval` per node: its data by alias is refused (and counted) until it rebirths.
    private func requestRebirth(_ topic: String) {
        guard rebirths.shouldRequest(topic) else { return }
        do {
            _ = try client.send(topic: topic, payload: SparkplugPayload.rebirthRequest(timestamp: UInt64(max(0, wallClockMillis()))),
                                qos: .atLeastOnce, retain: false)
            metrics.rebirthRequests.increment()
            logger.notice("Sparkplug B data by aliases no birth announced; rebirth requested", metadata: ["topic": "\(topic)"])
        } catch {
            logger.warning("cannot request a Sparkplug B rebirth", metadata: ["topic": "\(topic)", "error": "\(error)"])
        }
    }

    private func tick() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            let now = wallClockMillis()
            let events = pipeline.withLock { $0.advance(to: now) }
            hand(events)
        }
    }

    private func hand(_ events: [AnomalyEvent]) {
        for event in events {
            metrics.alarmHealth.record(event, at: wallClockMillis())
            switch event.stage {
            case .opened: metrics.events[event.kind]?.increment()
            case .resolved: metrics.resolved.increment()
            }
            worker.submit(event)
        }
    }
}

/// At most one rebirth request per edge node per `interval`.
final class RebirthLimiter: Sendable {
    static let interval: Duration = .seconds(10)
    private let last = Mutex<[String: ContinuousClock.Instant]>([:])

    func shouldRequest(_ node: String) -> Bool {
        let now = ContinuousClock.now
        return last.withLock { last in
            if let previous = last[node], now - previous < Self.interval { return false }
            last[node] = now
            return true
        }
    }
}

/// Logs refused readings at most once a minute per reason, with how many were refused since.
final class RejectionLog: Sendable {
    private struct Entry {
        var lastLogged: ContinuousClock.Instant
        var suppressed: Int
    }

    private let entries = Mutex<[DecodeFailure: Entry]>([:])

    func note(_ reason: DecodeFailure, topic: String, logger: Logger) {
        let now = ContinuousClock.now
        let suppressed: Int? = entries.withLock { e in
            if var entry = e[reason], now - entry.lastLogged < .seconds(60) {
                entry.suppressed += 1
                e[reason] = entry
                return nil
            }
            let count = e[reason]?.suppressed ?? 0
            e[reason] = Entry(lastLogged: now, suppressed: 0)
            return count
        }
        guard let suppressed else { return }
        logger.warning("reading refused", metadata: [
            "reason": "\(reason.rawValue)", "detail": "\(reason)", "topic": "\(topic.prefix(200))",
            "refused_since_last_log": "\(suppressed)",
        ])
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, attos) = components
        return s * 1_000_000_000 + attos / 1_000_000_000
    }
}
