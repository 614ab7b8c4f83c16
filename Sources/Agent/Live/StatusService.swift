import Foundation
import Logging
import MQTT
import Narration
import Outbox
import ServiceLifecycle
import Synchronization
import Telemetry

/// Publishes the agent's status: retained on the local broker when it starts and every
/// `interval`, upstream through the outbox, and `offline` (retained) on a clean shutdown — the last
/// will says the same when the agent dies without one.
struct StatusService: Service {
    let client: MQTTClient
    let outbox: Outbox?
    let topics: AgentTopics
    let interval: Duration
    let model: String?
    let provenance: ModelProvenance?
    /// Rolling narration figures; nil while narration is off.
    let drift: NarrationDriftWatch?
    let pipeline: SharedPipeline
    let worker: NarrationWorker
    let counters: AgentCounters
    let metrics: AgentMetrics
    let upstream: MQTTClient?
    let logger: Logger
    let started = Date()

    func status(state: String) async -> AgentStatus {
        let stats = pipeline.withLock { $0.statistics }
        let narration = worker.counts
        let counts = counters.values.withLock { $0 }
        var outboxFigures: [String: Int]?
        if let outbox {
            let s = await outbox.statistics()
            outboxFigures = ["depth": s.depth, "bytes": s.bytes, "dropped": Int(s.droppedTotal), "sent": Int(s.sent)]
        }
        return AgentStatus(
            agent: topics.agent, state: state, version: VigilVersion.string, model: model, modelBundle: provenance,
            startedAt: rfc3339(started), uptimeS: (Date().timeIntervalSince(started) * 10).rounded() / 10,
            counts: [
                "readings": stats.readings, "rejected": stats.rejectedTotal, "events": stats.eventsTotal,
                "alerts": counts.alerts, "alerts_dropped": counts.alertsDropped,
                "narration_fallbacks": narration.byTemplate, "narration_dropped": narration.dropped,
            ],
            outbox: outboxFigures, narration: drift?.figures())
    }

    func run() async throws {
        var announced = false
        var lastPublished: ContinuousClock.Instant?
        var warned: [String] = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var due = lastPublished.map { ContinuousClock.now - $0 >= interval } ?? true
            if let figures = drift?.figures(), figures.warnings.map(\.figure) != warned {
                // A figure crossed its floor: said in the log and on the status topic now, not at the next interval.
                for w in figures.warnings where !warned.contains(w.figure) {
                    logger.warning("narration is degraded", metadata: ["figure": "\(w.figure)", "detail": "\(w.text)"])
                }
                for f in warned where !figures.warnings.contains(where: { $0.figure == f }) {
                    logger.info("narration figure back within its floor", metadata: ["figure": "\(f)"])
                }
                warned = figures.warnings.map(\.figure)
                due = true
            }
            if client.isConnected && (due || !announced) {
                let message = await status(state: "online").jsonBytes()
                do {
                    try await client.publish(topic: topics.status, payload: message, qos: .atLeastOnce, retain: true)
                    if !announced { logger.info("status online") }
                    announced = true
                    lastPublished = .now
                } catch {
                    logger.debug("status not published", metadata: ["error": "\(error)"])
                }
                if let outbox, announced {
                    _ = try? await outbox.enqueue(topic: topics.upstreamStatus, payload: message, severity: -1,
                                                  key: "\(topics.agent):status:\(wallClockMillis())")
                }
            }
            await updateGauges()
            await Task.sleepUntilShutdown(for: .seconds(announced ? 5 : 1))
        }
        let offline = await status(state: "offline").jsonBytes()
        do {
            try await client.publish(topic: topics.status, payload: offline, qos: .atLeastOnce, retain: true)
            logger.info("status offline")
        } catch {
            logger.warning("could not publish the offline status; the broker's last will covers it", metadata: ["error": "\(error)"])
        }
    }

    private func updateGauges() async {
        let s = client.statistics
        metrics.mqttReceived.record(total: s.received)
        metrics.mqttDropped.record(total: s.dropped)
        metrics.mqttRateLimited.record(total: s.rateLimited)
        metrics.updateAlarmHealth(now: wallClockMillis())
        metrics.reconnects["local"]?.record(total: s.reconnects)
        metrics.connected["local"]?.record(client.isConnected ? 1 : 0)
        metrics.silentSubscriptions.record(client.silentSubscriptions.count)
        if let upstream {
            metrics.reconnects["upstream"]?.record(total: upstream.statistics.reconnects)
            metrics.connected["upstream"]?.record(upstream.isConnected ? 1 : 0)
        }
        if let outbox {
            let o = await outbox.statistics()
            metrics.outboxDepth.record(o.depth)
            metrics.outboxBytes.record(o.bytes)
            metrics.outboxSent.record(total: o.sent)
            metrics.outboxDropped.record(total: o.droppedTotal)
            metrics.outboxCorruptFiles.record(total: o.corruptFilesMovedAside)
        }
    }
}

extension Task where Success == Never, Failure == Never {
    /// Sleeps, returning early (without throwing) when graceful shutdown begins.
    static func sleepUntilShutdown(for duration: Duration) async {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }
}

func rfc3339(_ date: Date) -> String {
    Timestamp.rfc3339(Int64((date.timeIntervalSince1970 * 1000).rounded()))
}
