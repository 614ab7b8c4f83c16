import Foundation
import Simulation
import Telemetry

/// `vigil simulate`: runs a scenario of the demo plant and writes a recording and its labels.
public struct SimulateJob {
    public var catalogPath: String
    public var scenario: Scenario
    /// The recording's path; `.jsonl` writes a broker capture, anything else a wide CSV.
    public var output: String

    public init(catalogPath: String, scenario: Scenario, output: String) {
        self.catalogPath = catalogPath
        self.scenario = scenario
        self.output = output
    }

    public struct Result: Sendable {
        public var readings: Int
        public var recording: String
        public var labelsPath: String
        public var faults: [LabeledFault]
    }

    /// `NAME.csv` → `NAME.labels.json`.
    public static func labelsPath(for recording: String) -> String {
        var base = recording
        for ext in [".csv", ".jsonl", ".ndjson"] where base.lowercased().hasSuffix(ext) {
            base.removeLast(ext.count)
            break
        }
        return base + ".labels.json"
    }

    public func run() throws -> Result {
        let catalog = try Catalog.load(file: catalogPath)
        let simulator = try PlantSimulator(catalog: catalog, scenario: scenario)
        let format = RecordingFormat(path: output)
        var readings = 0
        let faults: [LabeledFault]
        switch format {
        case .csv:
            let writer = try CSVRecordingWriter(path: output, columns: catalog.sensors.map(\.id.rawValue),
                                                decimals: catalog.sensors.map { $0.decimals + 1 })
            faults = try simulator.run { index, timestamp, value in
                try writer.write(column: index, timestamp: timestamp, value: value)
                readings += 1
            }
            try writer.close()
        case .jsonl:
            let writer = try JSONLRecordingWriter(path: output)
            faults = try simulator.run { index, timestamp, value in
                let sensor = catalog.sensors[index]
                let payload = "{\"ts\":\(timestamp),\"value\":\(formatNumber(value, decimals: sensor.decimals + 1)),\"quality\":\"good\"}"
                try writer.write(timestamp: timestamp, topic: sensor.topic, payload: Array(payload.utf8))
                readings += 1
            }
            try writer.close()
        }
        let labels = RecordingLabels(
            recording: URL(fileURLWithPath: output).lastPathComponent, scenario: scenario.name, seed: scenario.seed,
            start: simulator.start, end: simulator.start + Int64(scenario.duration * 1000), faults: faults)
        let labelsPath = Self.labelsPath(for: output)
        try labels.write(path: labelsPath)
        return Result(readings: readings, recording: output, labelsPath: labelsPath, faults: faults)
    }
}
