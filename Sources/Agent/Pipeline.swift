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
    /// What a Sparkplug B birth announced for one data topic.
    private struct SparkplugBirth {
        struct Announced {
            /// The catalog sensor, or nil for a metric that is not Vigil's.
            var index: Int?
            var datatype: UInt32?
        }

        var aliases: [UInt64: Announced] = [:]
        /// Data types by metric name: Sparkplug 3.0 data messages may leave them out.
        var datatypes: [String: UInt32] = [:]
    }

    /// Births seen: data topic → aliases and data types.
    private var sparkplugBirths: [String: SparkplugBirth] = [:]
    /// A Sparkplug B payload larger than this is refused (a birth can list many metrics).
    public var maximumSparkplugSize = 256 * 1024

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

    /// A Sparkplug B NDATA/DDATA message (or the NBIRTH/DBIRTH that announces its metrics and
    /// aliases): each metric the catalog names becomes a reading of its sensor; metrics the catalog
    /// does not name are not Vigil's and are passed over. Nil when the topic is not a Sparkplug topic
    /// of the catalog.
    private func ingestSparkplug(topic: String, payload: [UInt8], receivedAt: Int64) -> [AnomalyEvent]? {
        let dataTopic: String
        let isBirth: Bool
        let metrics: [String: Int]
        if let named = catalog.sparkplugByTopic[topic] {
            (dataTopic, isBirth, metrics) = (topic, false, named)
        } else if let parsed = SparkplugTopic(topic), parsed.isBirth, let named = catalog.sparkplugByTopic[parsed.dataTopic] {
            (dataTopic, isBirth, metrics) = (parsed.dataTopic, true, named)
        } else {
            return nil
        }
        guard payload.count <= maximumSparkplugSize else { return reject(.oversized) }
        guard let decoded = try? SparkplugPayload.decode(payload) else { return reject(.malformed) }
        // A (re)birth replaces the aliases and data types of its data topic.
        if isBirth { sparkplugBirths[dataTopic] = SparkplugBirth() }
        var collected: [AnomalyEvent] = []
        var failure: DecodeFailure?
        for var metric in decoded.metrics {
            var index: Int?
            if let name = metric.name {
                index = metrics[name]
                if isBirth {
                    if let alias = metric.alias {
                        sparkplugBirths[dataTopic]?.aliases[alias] = .init(index: index, datatype: metric.datatype)
                    }
                    if let datatype = metric.datatype { sparkplugBirths[dataTopic]?.datatypes[name] = datatype }
                } else if metric.datatype == nil {
                    metric.datatype = sparkplugBirths[dataTopic]?.datatypes[name]
                }
            } else if let alias = metric.alias {
                guard let announced = sparkplugBirths[dataTopic]?.aliases[alias] else {
                    // Not announced since this agent started (births are not retained): refused, counted,
                    // and the edge node is asked for a new birth.
                    failure = .unknownAlias
                    _ = reject(.unknownAlias)
                    rebirthNeeded = SparkplugTopic(dataTopic).map(Self.nodeCommandTopic)
                    continue
                }
                index = announced.index
                if metric.datatype == nil { metric.datatype = announced.datatype }
            }
            guard let index else { continue }
            guard let value = metric.number, value.isFinite else {
                let reason: DecodeFailure = metric.number != nil ? .nonFinite : metric.isNull ? .missingValue : .wrongType
                failure = reason
                _ = reject(reason)
                continue
            }
            let stamp = metric.timestamp ?? decoded.timestamp
            let timestamp = stamp.map { Int64(clamping: $0) } ?? receivedAt
            let reading = Reading(sensor: catalog.sensors[index].id, timestamp: timestamp, value: value)
            collected += ingest(reading, index: index, clock: receivedAt)
            if let rejected = lastRejection { failure = rejected }
        }
        // The events of the good metrics are returned even when other metrics were refused.
        lastRejection = failure
        return collected
    }

    /// `spBv1.0/<group>/NCMD/<edge node>`: where a node's commands (a rebirth request) go.
    static func nodeCommandTopic(_ topic: SparkplugTopic) -> String {
        "spBv1.0/\(topic.group)/NCMD/\(topic.edgeNode)"
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
