import Agent
import Detection
import Foundation
import Narration
import Simulation
import Telemetry
import Testing
import VigilTestSupport

/// Readings near the largest double (issue #14): never an unencodable alert, never a failed replay.
@Suite("Absurd values")
struct AbsurdValueTests {
    @Test func anAlertWithOverflowingNumbersStillEncodes() throws {
        let catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
        let event = AnomalyEvent(
            id: "e1", stage: .opened, sensor: "pump1.flow", asset: "pump1", kind: .spike, severity: .critical,
            score: .nan, start: 1_772_434_800_000, detectedAt: 1_772_434_800_000, baseline: -8e307, peak: 8e307,
            deviation: .infinity, duration: 2, window: [WindowPoint(t: 1_772_434_800_000, v: 8e307)])
        let alert = AlertMessage(event: event, catalog: catalog, agent: "a",
                                 narrative: Narrative(text: "x", source: .template, latencyMs: 0, verified: true))
        let bytes = try alert.jsonBytes()
        let decoded = try JSONDecoder().decode(AlertMessage.self, from: Data(bytes))
        #expect(decoded.facts.peak == 8e307)
        #expect(decoded.facts.baseline == -8e307)
        #expect(decoded.facts.deviation == .greatestFiniteMagnitude)
        #expect(decoded.score == 0)
    }

    @Test func aReplayWithOne1e308ReadingRefusesItAndKeepsItsAlerts() async throws {
        let catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
        let directory = try TemporaryDirectory(prefix: "vigil-absurd")
        defer { directory.remove() }
        var scenario = Scenario(name: "t", summary: "", duration: 1500, seed: 11, faults: [
            FaultInjection(kind: .spike, target: "pump1.discharge_pressure", start: 1200, duration: 2),
        ])
        scenario.duration = 1500
        let clean = directory.file("clean.csv").path
        _ = try SimulateJob(catalogPath: RepositoryPaths.file("sensors/plant.yaml"), scenario: scenario, output: clean).run()
        // One pump1.flow reading (second column) of 1e308, half-way through, on the spiking asset.
        var lines = try String(contentsOfFile: clean, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init)
        var cells = lines[300].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].split(separator: ",")[2] == "pump1.flow")
        cells[2] = "1e308"
        lines[300] = cells.joined(separator: ",")
        let recording = directory.file("absurd.csv").path
        try lines.joined(separator: "\n").write(toFile: recording, atomically: true, encoding: .utf8)

        let runner = ReplayRunner(options: .init(recording: recording, catalog: catalog),
                                  narrator: try AgentNarration.replayNarrator(catalog: catalog))
        var alerts: [AlertMessage] = []
        let report = try await runner.run { alerts.append($0) }
        #expect(report.statistics.rejected[.implausible] == 1)
        #expect(alerts.contains { $0.sensor == "pump1.discharge_pressure" && $0.stage == "opened" },
                "\(alerts.map { "\($0.sensor) \($0.kind) \($0.stage)" })")
        #expect(!alerts.contains { abs($0.facts.peak) > 1e12 || abs($0.facts.deviation) > 1e12 })
    }
}
