import Detection
import Telemetry

/// Counts of what the pipeline saw; the live agent exports them as metrics, replay prints them.
public struct PipelineStatistics: Sendable {
    public var readings = 0
    public var rejected: [DecodeFailure: Int] = [:]
    public var events: [AnomalyKind: Int] = [:]
    public var resolved = 0
    public var firstTimestamp: Int64?
    public var lastTimestamp: Int64?

    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
    public var eventsTotal: Int { events.values.reduce(0, +) }
}

/// Ingest and detect: the synchronous heart shared by the live agent and replay.
///
/// One owner drives it (a single task): readings in, anomaly events out. It never waits for narration
/// or publishing; the events it returns are handed on by the caller.
public final class Pipeline {
    public let catalog: Catalog
    public let detector: PlantDetector
    public let decoder: PayloadDecoder
    /// Readings stamped further than this ahead of the clock are refused (ms).
    public var maximumFutureSkew: Int64 = 5 * 60_000
    /// Readings older than this behind the clock are refused (ms).
    public var maximumAge: Int64 = 24 * 3_600_000
    public private(set) var statistics = PipelineStatistics()
    /// The last time the clock was advanced to (ms).
    public private(set) var now: Int64?
    /// Why the most recent `ingest` refused its input; nil when it was accepted.
    public private(set) var lastRejection: DecodeFailure?
    /// Until this time (ms) the clock drives no silence detection. Set after a saved detector state is
    /// restored: its sensors last reported before the agent stopped, and the time the agent itself was
    /// down is no silence of theirs. A sensor still quiet when the hold ends is reported then.
    public var silenceHeldUntil: Int64?

    /// Readings of a larger magnitude are refused (`implausible`): no sensor measures 1e12 of
    /// anything, and values near the largest double overflow every number derived from them
    /// (deviations, variances, rounded facts), which would make the alert unencodable; the alert
    /// text writes numbers up to 1e12.
    public var maximumMagnitude = 1e12
    /// The Sparkplug B edge node (its NCMD topic) that sent metrics by aliases no birth announced in
    /// the most recent `ingest`; the caller asks it to rebirth. Nil otherwise.
    public private(set) var rebirthNeeded: String?

    private var events: [AnomalyEvent] = []
    /// The Sparkplug B births seen (aliases and data types per data topic).
    public var sparkplug = SparkplugSession()

    public init(catalog: Catalog, detector: DetectorConfiguration = DetectorConfiguration(), decoder: PayloadDecoder = PayloadDecoder()) {
        self.catalog = catalog
        self.detector = PlantDetector(catalog: catalog, configuration: detector)
        self.decoder = decoder
        events.reserveCapacity(64)
    }

    /// A raw message from a sensor topic. Returns the events it opened or resolved.
    public func ingest(topic: String, payload: [UInt8], receivedAt: Int64) -> [AnomalyEvent] {
        rebirthNeeded = nil
        guard let index = catalog.indexByTopic[topic] else {
            if !catalog.sparkplugByTopic.isEmpty, let events = ingestSparkplug(topic: topic, payload: payload, receivedAt: receivedAt) {
                return events
            }
            return reject(.unknownTopic)
        }
        switch decoder.decode(payload, for: catalog.sensors[index], receivedAt: receivedAt) {
        case .success(let reading): return ingest(reading, index: index, clock: receivedAt)
        case .failure(let reason): return reject(reason)
        }
    }

    /// A JSON payload stored inline in a recording.
    public func ingest(topic: String, json: JSONValue, receivedAt: Int64) -> [AnomalyEvent] {
        guard let index = catalog.indexByTopic[topic] else { return reject(.unknownTopic) }
        switch decoder.decode(json, for: catalog.sensors[index], receivedAt: receivedAt) {
        case .success(let reading): return ingest(reading, index: index, clock: receivedAt)
        case .failure(let reason): return reject(reason)
        }
    }

    /// A decoded reading of the sensor at catalog index `index`; `clock` is the current time (ms).
    public func ingest(_ reading: Reading, index: Int, clock: Int64) -> [AnomalyEvent] {
        lastRejection = nil
        if reading.quality == .bad { return reject(.badQuality) }
        guard reading.value.isFinite else { return reject(.nonFinite) }
        guard abs(reading.value) <= maximumMagnitude else { return reject(.implausible) }
        if reading.timestamp > clock + maximumFutureSkew { return reject(.fromFuture) }
        if reading.timestamp < clock - maximumAge { return reject(.tooOld) }
        events.removeAll(keepingCapacity: true)
        advanceClock(to: clock)
        statistics.readings += 1
        if statistics.firstTimestamp == nil { statistics.firstTimestamp = reading.timestamp }
        statistics.lastTimestamp = max(statistics.lastTimestamp ?? reading.timestamp, reading.timestamp)
        _ = detector.ingest(sensor: index, timestamp: reading.timestamp, value: reading.value, events: &events)
        count(events)
        return events
    }

    /// A Sparkplug B message of the catalog, read by `sparkplug`: each reading is ingested, each refused
    /// metric counted; the events of the good metrics are returned even when others were refused. Nil when
    /// the topic is not a Sparkplug topic of the catalog.
    private func ingestSparkplug(topic: String, payload: [UInt8], receivedAt: Int64) -> [AnomalyEvent]? {
        guard let message = sparkplug.read(topic: topic, payload: payload, receivedAt: receivedAt, catalog: catalog) else { return nil }
        rebirthNeeded = message.rebirthTopic
        var collected: [AnomalyEvent] = []
        var failure: DecodeFailure?
        for item in message.items {
            switch item {
            case .reading(let index, let reading):
                collected += ingest(reading, index: index, clock: receivedAt)
                if let rejected = lastRejection { failure = rejected }
            case .refused(let reason):
                failure = reason
                _ = reject(reason)
            }
        }
        lastRejection = failure
        return collected
    }

    /// The clock moved without a reading (silence detection, closing quiet events).
    public func advance(to time: Int64) -> [AnomalyEvent] {
        events.removeAll(keepingCapacity: true)
        advanceClock(to: time)
        count(events)
        return events
    }

    private func advanceClock(to time: Int64) {
        guard time > (now ?? Int64.min) else { return }
        now = time
        if let hold = silenceHeldUntil {
            guard time >= hold else { return }
            silenceHeldUntil = nil
        }
        detector.advance(to: time, events: &events)
    }

    private func reject(_ reason: DecodeFailure) -> [AnomalyEvent] {
        lastRejection = reason
        statistics.rejected[reason, default: 0] += 1
        return []
    }

    private func count(_ events: [AnomalyEvent]) {
        for e in events {
            switch e.stage {
            case .opened: statistics.events[e.kind, default: 0] += 1
            case .resolved: statistics.resolved += 1
            }
        }
    }
}
