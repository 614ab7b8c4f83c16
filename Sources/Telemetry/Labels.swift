import Foundation

/// One labelled fault in a recording: what was injected, where and when.
public struct LabeledFault: Sendable, Codable, Equatable {
    /// The injected fault: cavitation, bearing_wear, blocked_valve, stuck_valve, stuck_sensor, silent_sensor, spike, out_of_range.
    public var kind: String
    public var asset: String
    /// The sensors whose readings the fault changes.
    public var sensors: [SensorID]
    /// RFC 3339.
    public var start: String
    public var end: String
    public var description: String

    public init(kind: String, asset: String, sensors: [SensorID], start: Int64, end: Int64, description: String) {
        self.kind = kind
        self.asset = asset
        self.sensors = sensors
        self.start = Timestamp.rfc3339(start)
        self.end = Timestamp.rfc3339(end)
        self.description = description
    }

    public var startMillis: Int64? { Timestamp.parse(start) }
    public var endMillis: Int64? { Timestamp.parse(end) }
}

/// The labels file beside a recording (`NAME.labels.json`).
public struct RecordingLabels: Sendable, Codable, Equatable {
    public var recording: String
    public var scenario: String
    public var seed: UInt64
    public var start: String
    public var end: String
    public var faults: [LabeledFault]

    public init(recording: String, scenario: String, seed: UInt64, start: Int64, end: Int64, faults: [LabeledFault]) {
        self.recording = recording
        self.scenario = scenario
        self.seed = seed
        self.start = Timestamp.rfc3339(start)
        self.end = Timestamp.rfc3339(end)
        self.faults = faults
    }

    public static func load(path: String) throws -> RecordingLabels {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TelemetryError(.unreadableFile, "\(path): cannot read the labels file")
        }
        let labels: RecordingLabels
        do {
            labels = try JSONDecoder().decode(RecordingLabels.self, from: data)
        } catch {
            throw TelemetryError(.invalidLabels, "\(path): not a labels file: \(error)")
        }
        for (i, fault) in labels.faults.enumerated() {
            guard let s = fault.startMillis, let e = fault.endMillis, s <= e else {
                throw TelemetryError(.invalidLabels, "\(path): faults[\(i)]: expected RFC 3339 `start` before `end`")
            }
        }
        return labels
    }

    public func write(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }
}
