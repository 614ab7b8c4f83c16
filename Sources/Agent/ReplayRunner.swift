import Detection
import Foundation
import Narration
import Outbox
import Telemetry

/// `vigil replay`: a recorded log through the very same pipeline, driven by a virtual clock
/// (the recording's timestamps), alerts as JSON lines, and a summary.
public struct ReplayRunner {
    public struct Options {
        public var recording: String
        public var catalog: Catalog
        public var labels: RecordingLabels?
        /// Plant seconds per wall second; nil replays as fast as possible.
        public var speed: Double?
        public var agent = "replay"
        /// Show a progress bar on standard error.
        public var progress = false

        public init(recording: String, catalog: Catalog, labels: RecordingLabels? = nil, speed: Double? = nil) {
            self.recording = recording
            self.catalog = catalog
            self.labels = labels
            self.speed = speed
        }
    }

    public struct Report: Sendable {
        public var statistics: PipelineStatistics
        public var alerts: Int
        public var narrativeSources: [String: Int]
        public var recordingIssues: [RecordingIssue]
        public var recordingIssueCount: Int
        public var ignoredColumns: [String]
        public var openAtEnd: Int
        public var wallSeconds: Double
        /// Bytes of the recording file.
        public var ingestedBytes: Int
        /// Bytes the live agent would receive for the same readings: each one an MQTT PUBLISH on its
        /// catalog topic with the payload `vigil replay --broker` sends.
        public var ingestedWireBytes: Int
        /// Local alerts, JSON with windows.
        public var alertBytes: Int
        /// What would go upstream: incident stages (`UpstreamDistiller`) as MQTT PUBLISHes with the
        /// outbox's delivery fields.
        public var upstreamMessages: Int
        public var upstreamBytes: Int
        public var score: ReplayScore?
        /// Alerts per 10 minutes, floods, chattering and standing alerts (ISA-18.2 / EEMUA 191).
        public var alarmHealth = AlarmHealthSummary()
        /// Incident explanations carried by alerts (an event that followed others of its asset), by source.
        public var incidentSources: [String: Int] = [:]
    }

    public var options: Options
    public var narrator: any EventNarrating

    public init(options: Options, narrator: any EventNarrating) {
        self.options = options
        self.narrator = narrator
    }

    /// Replays the recording, handing each alert to `emit` in order.
    public func run(emit: (AlertMessage) throws -> Void) async throws -> Report {
        let catalog = options.catalog
        let reader = try RecordingReader(path: options.recording)
        let pipeline = Pipeline(catalog: catalog)

        // CSV columns name sensors by id, topic or name.
        var columnIndex: [Int?] = []
        var ignored: [String] = []
        for column in reader.columns {
            let index = catalog.index(of: SensorID(column)) ?? catalog.indexByTopic[column]
                ?? catalog.sensors.firstIndex { $0.name == column }
            if index == nil { ignored.append(column) }
            columnIndex.append(index)
        }
        if reader.format == .csv || !reader.columns.isEmpty, columnIndex.allSatisfy({ $0 == nil }) {
            throw reader.noMatchingColumnsError()
        }

        var alerts = 0
        var sources: [String: Int] = [:]
        var incidentSources: [String: Int] = [:]
        var alertBytes = 0
        var wireBytes = 0
        // The live agent's path: the same alert, local messages and upstream incidents (default topics).
        var router = AlertRouter(catalog: catalog, topics: AgentTopics(prefix: "vigil", agent: options.agent, site: catalog.site))
        let upstreamTopic = router.topics.upstreamEvents
        var incidents = IncidentTracker(window: narrator.incidentWindow)
        var upstreamMessages = 0
        var upstreamBytes = 0
        // The outbox numbers a new file from the wall clock in ms × 1000: 16 digits, as in the field.
        var sequence: UInt64 = 1_790_000_000_000_000
        var scored: [ReplayScore.EventSummary] = []
        var health = AlarmHealth()
        let progress = options.progress ? ProgressBar(total: reader.totalBytes) : nil
        let wallStart = ContinuousClock.now
        var firstPlant: Int64?

        func handle(_ events: [AnomalyEvent]) async throws {
            for event in events {
                health.record(event)
                let followed = incidents.record(event)
                let narrative = await narrator.narrate(event)
                var incident: AlertIncident?
                if let followed { incident = await narrator.narrateIncident(followed) }
                if let incident { incidentSources[incident.narrative.source.rawValue, default: 0] += 1 }
                let routed = try router.route(event, narrative: narrative, incident: incident)
                alertBytes += routed.body.count
                try emit(routed.alert)
                if let incident = routed.upstream {
                    sequence += 1
                    let message = OutboxMessage(sequence: sequence, key: incident.idempotencyKey(agent: options.agent),
                                                topic: upstreamTopic, payload: try incident.jsonBytes(),
                                                severity: incident.severityRank, createdAt: 0, historical: false)
                    let body = message.jsonObjectBody() ?? message.payload
                    upstreamBytes += MQTTWireSize.publish(topicBytes: upstreamTopic.utf8.count, payloadBytes: body.count)
                    upstreamMessages += 1
                }
                alerts += 1
                sources[narrative.source.rawValue, default: 0] += 1
                if event.stage == .opened {
                    scored.append(.init(sensor: event.sensor, asset: event.asset, kind: event.kind.rawValue,
                                        detectedAt: event.detectedAt))
                }
            }
        }

        var count = 0
        while let item = reader.next() {
            let t = item.timestamp
            if let speed = options.speed {
                let first = firstPlant ?? t
                firstPlant = first
                let due = Duration.milliseconds(Double(t - first) / speed)
                let elapsed = ContinuousClock.now - wallStart
                if due > elapsed { try await Task.sleep(for: due - elapsed) }
            }
            let events: [AnomalyEvent]
            switch item {
            case .sample(let column, let timestamp, let value):
                guard let index = columnIndex[column] else { continue }
                let sensor = catalog.sensors[index]
                wireBytes += MQTTWireSize.publish(
                    topicBytes: sensor.topic.utf8.count,
                    payloadBytes: BrokerReplay.readingPayloadCount(timestamp: timestamp, value: value, decimals: sensor.decimals + 2))
                let reading = Reading(sensor: sensor.id, timestamp: timestamp, value: value)
                events = pipeline.ingest(reading, index: index, clock: timestamp)
            case .message(let timestamp, let topic, .bytes(let payload)):
                wireBytes += MQTTWireSize.publish(topicBytes: topic.utf8.count, payloadBytes: payload.count)
                events = pipeline.ingest(topic: topic, payload: payload, receivedAt: timestamp)
            case .message(let timestamp, let topic, .json(let json)):
                wireBytes += MQTTWireSize.publish(topicBytes: topic.utf8.count, payloadBytes: json.serialized().utf8.count)
                events = pipeline.ingest(topic: topic, json: json, receivedAt: timestamp)
            }
            if !events.isEmpty { try await handle(events) }
            count += 1
            if count & 0x3FF == 0 {
                progress?.update(done: reader.bytesRead)
                if Task.isCancelled { break }
            }
        }
        progress?.finish()
        if pipeline.statistics.readings == 0, !Task.isCancelled {
            let rejected = pipeline.statistics.rejected.sorted { $0.value > $1.value }
                .map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
            throw reader.noReadingsError(rejected: rejected)
        }

        let score = options.labels.map { ReplayScore.score(events: scored, labels: $0) }
        return Report(
            statistics: pipeline.statistics, alerts: alerts, narrativeSources: sources,
            recordingIssues: reader.issues, recordingIssueCount: reader.issueCount, ignoredColumns: ignored,
            openAtEnd: pipeline.detector.openEvents.count,
            wallSeconds: (ContinuousClock.now - wallStart) / .seconds(1), ingestedBytes: reader.totalBytes,
            ingestedWireBytes: wireBytes, alertBytes: alertBytes, upstreamMessages: upstreamMessages,
            upstreamBytes: upstreamBytes, score: score,
            alarmHealth: health.summary(start: pipeline.statistics.firstTimestamp,
                                        end: pipeline.statistics.lastTimestamp ?? 0),
            incidentSources: incidentSources)
    }
}
