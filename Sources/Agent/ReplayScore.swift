import Telemetry

/// How a replay's events compare with the labels of its recording.
public struct ReplayScore: Sendable {
    public struct FaultResult: Sendable {
        public var fault: LabeledFault
        public var detected: Bool
        /// Seconds from the fault's start to the first matching event's detection.
        public var delay: Double?
        public var matchingEvents: Int
    }

    public var faults: [FaultResult]
    public var events: Int
    public var truePositiveEvents: Int
    public var falseEvents: [EventSummary]

    public struct EventSummary: Sendable {
        public var sensor: SensorID
        public var asset: String
        public var kind: String
        public var detectedAt: Int64
    }

    public var recall: Double { faults.isEmpty ? 1 : Double(faults.filter(\.detected).count) / Double(faults.count) }
    public var precision: Double { events == 0 ? 1 : Double(truePositiveEvents) / Double(events) }
    public var medianDelay: Double? {
        let delays = faults.compactMap(\.delay).sorted()
        return delays.isEmpty ? nil : delays[delays.count / 2]
    }

    /// Seconds after a fault's labelled end during which an event still counts as caused by it.
    public static let grace: Int64 = 300_000

    /// An event matches a fault when it is on one of the fault's sensors, or on the fault's asset,
    /// and it was detected between the fault's start and its end plus the grace period.
    public static func score(events: [EventSummary], labels: RecordingLabels) -> ReplayScore {
        var results: [FaultResult] = []
        var matched = Array(repeating: false, count: events.count)
        for fault in labels.faults {
            guard let start = fault.startMillis, let end = fault.endMillis else { continue }
            var first: Int64?
            var count = 0
            for (i, e) in events.enumerated()
            where (fault.sensors.contains(e.sensor) || e.asset == fault.asset) && e.detectedAt >= start && e.detectedAt <= end + grace {
                matched[i] = true
                count += 1
                first = min(first ?? e.detectedAt, e.detectedAt)
            }
            results.append(FaultResult(fault: fault, detected: first != nil,
                                       delay: first.map { Double($0 - start) / 1000 }, matchingEvents: count))
        }
        let falses = events.indices.filter { !matched[$0] }.map { events[$0] }
        return ReplayScore(faults: results, events: events.count, truePositiveEvents: matched.filter { $0 }.count,
                           falseEvents: falses)
    }
}
