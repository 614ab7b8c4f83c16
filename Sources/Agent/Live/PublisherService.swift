import Detection
import Foundation
import Logging
import Metrics
import MQTT
import Narration
import Outbox
import ServiceLifecycle
import Synchronization
import Telemetry

/// Counts the status message reports, shared by the live services.
final class AgentCounters: Sendable {
    struct Values {
        var alerts = 0
        var alertsDropped = 0
        var upstreamEnqueued = 0
        var upstreamEnqueueFailures = 0
    }

    let values = Mutex(Values())
}

/// Narrated events → (`AlertRouter`) alerts on the local broker (QoS 1), active alarms (retained; cleared
/// on resolve), and upstream events into the outbox. When the local broker is unreachable, alerts wait
/// in a bounded queue (oldest dropped, counted) and go out in order on reconnection.
struct PublisherService: Service {
    let client: MQTTClient
    let worker: NarrationWorker
    let outbox: Outbox?
    let catalog: Catalog
    let topics: AgentTopics
    let metrics: AgentMetrics
    let counters: AgentCounters
    let logger: Logger
    /// The retained active alarms that should be on the broker (reconciled on each connection).
    let alarms: ActiveAlarms
    /// Where the open upstream incidents are saved (nil without an upstream link).
    let incidentFile: UpstreamIncidentFile?
    /// The events the restored detector state has open.
    let openAtStart: [AnomalyEvent]
    /// Incidents left open by an earlier run and resolved at this start.
    let reconciledIncidents: Counter?
    /// Rolling narration figures (drift watch).
    let drift: NarrationDriftWatch
    /// Alerts kept while the local broker is unreachable.
    let backlogCapacity = 10_000
    /// Messages handed to the client before their PUBACKs are awaited.
    static let window = 64

    typealias Pending = AlertRouter.LocalMessage

    func run() async throws {
        var backlog: [Pending] = []
        var backlogHead = 0
        var lastDropped = 0
        var router = AlertRouter(catalog: catalog, topics: topics)
        let writer = incidentFile.map { UpstreamIncidentWriter(file: $0, logger: logger) }
        await restoreIncidents(into: &router.distiller, writer)
        // Results end when the narration worker has drained (it stops before this service).
        for await narrated in worker.results {
            let event = narrated.event
            metrics.narrationBySource[narrated.narrative.source.rawValue]?.increment()
            metrics.narrationLatency.recordMilliseconds(narrated.narrative.latencyMs)
            drift.record(narrated.narrative)
            if let incident = narrated.incident {
                metrics.narrationBySource[incident.narrative.source.rawValue]?.increment()
                metrics.narrationLatency.recordMilliseconds(incident.narrative.latencyMs)
                drift.record(incident.narrative)
            }
            metrics.narrationQueue.record(worker.queueDepth)
            let dropped = worker.counts.dropped
            if dropped > lastDropped {
                metrics.narrationDropped.increment(by: dropped - lastDropped)
                lastDropped = dropped
            }

            let routed: AlertRouter.Routed
            do {
                routed = try router.route(event, narrative: narrated.narrative, incident: narrated.incident.map(AlertIncident.init))
            } catch {
                // Counted and logged; the alerts after it go on.
                metrics.alertsDropped.increment()
                counters.values.withLock { $0.alertsDropped += 1 }
                logger.error("cannot encode an alert; dropped", metadata: [
                    "event": "\(event.id)", "sensor": "\(event.sensor.rawValue)", "error": "\(error)"])
                continue
            }
            switch event.stage {
            case .opened: alarms.opened(sensor: event.sensor.rawValue, body: routed.body)
            case .resolved: alarms.resolved(sensor: event.sensor.rawValue)
            }
            if let incident = routed.upstream {
                await enqueueUpstream(incident)
                saveIncidents(router.distiller, writer)
            }

            // Anything still waiting goes first, in order.
            backlog.append(contentsOf: routed.local)
            await flush(&backlog, &backlogHead)
            if backlog.count - backlogHead > backlogCapacity {
                let excess = backlog.count - backlogHead - backlogCapacity
                backlogHead += excess
                metrics.alertsDropped.increment(by: excess)
                counters.values.withLock { $0.alertsDropped += excess }
                logger.error("local broker unreachable and the alert backlog is full; oldest alerts dropped",
                             metadata: ["dropped": "\(excess)"])
            }
        }
        await flush(&backlog, &backlogHead)
        await writer?.flush()
        if backlog.count > backlogHead {
            logger.warning("stopping with alerts not delivered to the local broker (they were sent upstream)",
                           metadata: ["alerts": "\(backlog.count - backlogHead)"])
        }
    }

    /// Publishes what it can, in order; stops at the first message the broker cannot take now.
    /// Everything waiting is handed to the client at once (pipelined, in order) and the PUBACKs are
    /// awaited afterwards, so an alert never waits for the acknowledgement of the one before it.
    /// A message whose PUBACK did not come is sent again from there on (at least once).
    private func flush(_ backlog: inout [Pending], _ head: inout Int) async {
        while head < backlog.count {
            var receipts: [MQTTPublishReceipt] = []
            var sendError: (any Error)?
            for m in backlog[head...].prefix(Self.window) {
                do {
                    receipts.append(try client.send(topic: m.topic, payload: m.payload, qos: .atLeastOnce, retain: m.retain))
                } catch {
                    sendError = error
                    break
                }
            }
            var acknowledged = 0
            for receipt in receipts {
                do {
                    try await receipt.acknowledged()
                } catch {
                    sendError = error
                    break
                }
                if !backlog[head + acknowledged].retain {
                    metrics.alertsPublished.increment()
                    counters.values.withLock { $0.alerts += 1 }
                }
                acknowledged += 1
            }
            head += acknowledged
            guard sendError != nil else { continue }
            metrics.alertPublishRetries.increment()
            if !client.isConnected {
                // Wait for the link rather than spin; a new alert or the reconnection retries.
                if await waitForConnection(timeout: .seconds(2)) { continue }
            }
            break
        }
        if head > 1024 && head * 2 > backlog.count {
            backlog.removeFirst(head)
            head = 0
        }
    }

    private func waitForConnection(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if client.isConnected { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return client.isConnected
    }

    /// Takes back the incidents an earlier run left open: those whose asset still has events open
    /// stay open; the others are resolved upstream now (a crash lost their resolved stage).
    private func restoreIncidents(into distiller: inout UpstreamDistiller, _ writer: UpstreamIncidentWriter?) async {
        guard outbox != nil, let file = incidentFile else { return }
        let saved: [UpstreamDistiller.Open]
        do {
            guard let loaded = try file.load() else { return }
            saved = loaded
        } catch {
            logger.error("the saved upstream incidents cannot be read; they are not reconciled",
                         metadata: ["path": "\(file.path)", "error": "\(error)"])
            return
        }
        let resolved = distiller.restore(saved, openEvents: openAtStart, now: Timestamp.rfc3339(wallClockMillis()))
        for incident in resolved { await enqueueUpstream(incident) }
        if !resolved.isEmpty {
            reconciledIncidents?.increment(by: resolved.count)
            logger.notice("upstream incidents left open by an earlier run resolved",
                          metadata: ["resolved": "\(resolved.count)", "kept_open": "\(distiller.openIncidents)"])
        }
        saveIncidents(distiller, writer)
    }

    /// Hands the open incidents to the writer (written off this task: publishing never waits for the disk).
    private func saveIncidents(_ distiller: UpstreamDistiller, _ writer: UpstreamIncidentWriter?) {
        guard outbox != nil, let writer else { return }
        writer.submit(distiller.saved)
    }

    private func enqueueUpstream(_ incident: UpstreamIncident) async {
        guard let outbox else { return }
        guard let payload = try? incident.jsonBytes() else {
            counters.values.withLock { $0.upstreamEnqueueFailures += 1 }
            logger.error("cannot encode an upstream event; dropped", metadata: ["incident": "\(incident.incident)"])
            return
        }
        do {
            try await outbox.enqueue(topic: topics.upstreamEvents, payload: payload, severity: incident.severityRank,
                                     key: incident.idempotencyKey(agent: topics.agent))
            counters.values.withLock { $0.upstreamEnqueued += 1 }
        } catch {
            counters.values.withLock { $0.upstreamEnqueueFailures += 1 }
            logger.error("cannot store an upstream event in the outbox",
                         metadata: ["incident": "\(incident.incident)", "stage": "\(incident.stage.rawValue)",
                                    "error": "\(error)"])
        }
    }
}
