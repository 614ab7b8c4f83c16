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

    init(client: MQTTClient, pipeline: SharedPipeline, worker: NarrationWorker, metrics: AgentMetrics, logger: Logger) {
        self.client = client
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
            let started = ContinuousClock.now
            let now = wallClockMillis()
            let (events, rejection) = pipeline.withLock { p in
                let events = p.ingest(topic: message.topic, payload: message.payload, receivedAt: now)
                return (events, p.lastRejection)
            }
            if let rejection {
                metrics.rejected[rejection]?.increment()
                rejections.note(rejection, topic: message.topic, logger: logger)
                continue
            }
            metrics.readings.increment()
            hand(events)
            metrics.detectionLatency.recordNanoseconds(Int64((ContinuousClock.now - started).nanoseconds))
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
            switch event.stage {
            case .opened: metrics.events[event.kind]?.increment()
            case .resolved: metrics.resolved.increment()
            }
            worker.submit(event)
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
