import Agent
import Foundation
import Outbox
import Telemetry
import Testing
import VigilTestSupport

/// What goes upstream against what comes in: each demo recording through the replay pipeline, its
/// alerts folded into incidents as the live agent folds them, each incident stage counted as an MQTT
/// PUBLISH with the outbox's delivery fields, against the readings counted as the MQTT PUBLISHes the
/// live agent would have received.
@Suite("Upstream distillation")
struct UpstreamDistillationTests {
    static let recordings = ["bearing-wear", "blocked-valve", "cavitation", "sensor-faults", "tank-overfill", "normal"]

    @Test("Upstream bytes are at most 1/1000 of the ingested bytes", .timeLimit(.minutes(2)), arguments: recordings)
    func upstreamIsDistilled(_ name: String) async throws {
        let recording = RepositoryPaths.file("sensors/recordings/\(name).csv")
        guard FileManager.default.fileExists(atPath: recording) else { return }
        let catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
        let agent = "pump-house-1"
        var options = ReplayRunner.Options(recording: recording, catalog: catalog)
        options.agent = agent
        let runner = ReplayRunner(options: options, narrator: try AgentNarration.replayNarrator(catalog: catalog))
        let topic = "vigil/\(catalog.site)/\(agent)/events"
        var distiller = UpstreamDistiller(site: catalog.site)
        var sequence: UInt64 = 1_790_000_000_000_000
        var upstreamBytes = 0
        var stages: [UpstreamIncident] = []
        var alerts: [AlertMessage] = []
        var validator = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "event.schema.json")
        let report = try await runner.run { alert in
            alerts.append(alert)
            guard let incident = distiller.distill(alert) else { return }
            sequence += 1
            let message = OutboxMessage(
                sequence: sequence, key: incident.idempotencyKey(agent: agent), topic: topic,
                payload: try incident.jsonBytes(), severity: incident.severityRank, createdAt: 0, historical: false)
            let body = try #require(message.jsonObjectBody())
            let failures = try validator.validate(json: String(decoding: body, as: UTF8.self))
            #expect(failures.isEmpty, "\(name): upstream incident does not match event.schema.json: \(failures)")
            upstreamBytes += MQTTWireSize.publish(topicBytes: topic.utf8.count, payloadBytes: body.count)
            stages.append(incident)
        }
        #expect(report.alerts > 0, "\(name): no alert, nothing to measure")
        #expect(report.upstreamBytes == upstreamBytes, "the replay summary counts what the live agent would send")
        #expect(report.upstreamMessages == stages.count)

        // Every asset that alerted has an incident; every opened event's asset has one opened stage per
        // incident; incidents that resolved carry every event folded into them.
        let alertedAssets = Set(alerts.map(\.asset))
        #expect(Set(stages.map(\.asset)) == alertedAssets)
        let openedEvents = alerts.filter { $0.stage == "opened" }.count
        let resolvedCounts = stages.filter { $0.stage == .resolved }.compactMap(\.events).reduce(0, +)
        let stillOpen = distiller.openIncidents
        #expect(resolvedCounts <= openedEvents)
        if stillOpen == 0 { #expect(resolvedCounts == openedEvents) }
        #expect(stages.count <= alerts.count)

        // Readings as the agent receives them: topic + `{"ts","value","quality"}` per reading, ~85 bytes each.
        let ingested = report.ingestedWireBytes
        #expect(ingested > report.statistics.readings * 60)
        let ratio = Double(upstreamBytes) / Double(max(ingested, 1))
        print(String(format: "upstream distillation %@: %d readings, %d bytes as MQTT (%d in the file), %d alerts -> %d upstream incident messages, %d bytes (1/%.0f of ingested, 1/%.0f of the file)",
                     name, report.statistics.readings, ingested, report.ingestedBytes, alerts.count, stages.count,
                     upstreamBytes, 1 / max(ratio, 1e-12), Double(report.ingestedBytes) / Double(max(upstreamBytes, 1))))
        #expect(ratio <= 1.0 / 1000, "\(name): upstream is 1/\(Int(1 / ratio)) of ingested")
    }

    @Test("MQTT PUBLISH sizes: fixed header, remaining-length bytes, topic, packet id, payload")
    func publishSizes() {
        // Remaining length 2 + 1 + 2 + 0 = 5: one length byte.
        #expect(MQTTWireSize.publish(topicBytes: 1, payloadBytes: 0) == 7)
        // QoS 0 has no packet id.
        #expect(MQTTWireSize.publish(topicBytes: 1, payloadBytes: 0, qos: 0) == 5)
        // 127 fits one length byte, 128 needs two, 16,383 two, 16,384 three.
        #expect(MQTTWireSize.publish(topicBytes: 3, payloadBytes: 120) == 1 + 1 + 127)
        #expect(MQTTWireSize.publish(topicBytes: 3, payloadBytes: 121) == 1 + 2 + 128)
        #expect(MQTTWireSize.publish(topicBytes: 3, payloadBytes: 16_376) == 1 + 2 + 16_383)
        #expect(MQTTWireSize.publish(topicBytes: 3, payloadBytes: 16_377) == 1 + 3 + 16_384)
    }
}
