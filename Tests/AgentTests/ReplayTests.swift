import Agent
import Foundation
import Telemetry
import Testing
import VigilTestSupport

@Suite struct ReplayTests {
    static let scenarios = ["normal", "cavitation", "bearing-wear", "blocked-valve", "sensor-faults", "tank-overfill"]

    func replay(_ name: String) async throws -> (alerts: [AlertMessage], bytes: [[UInt8]], report: ReplayRunner.Report) {
        let catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
        let recording = RepositoryPaths.file("sensors/recordings/\(name).csv")
        let labels = try RecordingLabels.load(path: SimulateJob.labelsPath(for: recording))
        let runner = ReplayRunner(options: .init(recording: recording, catalog: catalog, labels: labels),
                                  narrator: try AgentNarration.replayNarrator(catalog: catalog))
        var alerts: [AlertMessage] = []
        var bytes: [[UInt8]] = []
        let report = try await runner.run { alert in
            alerts.append(alert)
            bytes.append(try alert.jsonBytes())
        }
        return (alerts, bytes, report)
    }

    @Test(arguments: scenarios.filter { $0 != "normal" })
    func everyLabelledFaultIsDetected(_ name: String) async throws {
        let (_, _, report) = try await replay(name)
        let score = try #require(report.score)
        for fault in score.faults {
            #expect(fault.detected, "\(name): \(fault.fault.kind) on \(fault.fault.asset) was missed")
        }
        #expect(report.statistics.readings > 60_000)
    }

    @Test func alertsValidateAgainstTheSchema() async throws {
        var validator = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "alert.schema.json")
        let (alerts, bytes, _) = try await replay("sensor-faults")
        #expect(!alerts.isEmpty)
        #expect(Set(alerts.map(\.stage)) == ["opened", "resolved"])
        for line in bytes {
            let failures = try validator.validate(JSONValue.parse(line))
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    @Test func schemaValidatorRejectsBrokenAlerts() async throws {
        var validator = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "alert.schema.json")
        let (_, bytes, _) = try await replay("cavitation")
        var alert = try JSONValue.parse(try #require(bytes.first))
        guard case .object(var members) = alert else { Issue.record("not an object"); return }
        members.removeAll { $0.0 == "kind" }
        members.append(("surprise", .bool(true)))
        alert = .object(members)
        let failures = try validator.validate(alert)
        #expect(failures.contains { $0.message.contains("kind") })
        #expect(failures.contains { $0.message.contains("surprise") })
    }

    /// Same input, same events, same text; only the measured narration latency may differ.
    @Test func replayIsDeterministic() async throws {
        func normalised(_ alerts: [AlertMessage]) -> [AlertMessage] {
            alerts.map { alert in
                var a = alert
                a.narrative.latencyMs = 0
                a.incident?.narrative.latencyMs = 0
                return a
            }
        }
        let first = normalised(try await replay("cavitation").alerts)
        let second = normalised(try await replay("cavitation").alerts)
        #expect(!first.isEmpty)
        #expect(first.count == second.count)
        for (a, b) in zip(first, second) { #expect(a == b, "\(a.eventID) differs between runs") }
    }

    @Test func eventsOpenOnceAndResolveOnce() async throws {
        let (alerts, _, _) = try await replay("blocked-valve")
        var opened: Set<String> = []
        var resolved: Set<String> = []
        for alert in alerts {
            if alert.stage == "opened" {
                #expect(opened.insert(alert.eventID).inserted, "opened twice: \(alert.eventID)")
            } else {
                #expect(opened.contains(alert.eventID), "resolved before opened: \(alert.eventID)")
                #expect(resolved.insert(alert.eventID).inserted, "resolved twice: \(alert.eventID)")
            }
        }
    }
}
