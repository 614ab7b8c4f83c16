import Agent
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MQTT
import ServiceLifecycle
import Simulation
import Telemetry
import Testing
import VigilTestSupport

/// The live agent against a real mosquitto on a free loopback port.
@Suite(.serialized) struct LiveAgentTests {
    let catalog: Catalog

    init() throws {
        catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
    }

    struct Running {
        let broker: MosquittoBroker
        let directory: TemporaryDirectory
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let observer: MQTTClient
        let metricsPort: Int

        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
            await observer.disconnect()
        }
    }

    /// Starts a broker, an observer subscribed to `vigil/#`, and the agent.
    func start(upstream: Bool = true, narration: String = "{enabled: false}") async throws -> Running? {
        guard MosquittoBroker.isAvailable else { return nil }
        let broker = try MosquittoBroker()
        let directory = try TemporaryDirectory(prefix: "vigil-live")
        let metricsPort = try MosquittoBroker.freePort()
        let yaml = """
            agent: {name: test, catalog: \(RepositoryPaths.file("sensors/plant.yaml")), state_dir: \(directory.path)}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            ingest: {max_future_skew: 30d}
            narration: \(narration)
            \(upstream ? "upstream: {url: \"\(broker.url)\", client_id: test-up, status_interval: 1s, reconnect: {min: 100ms, max: 500ms}}" : "")
            metrics: {listen: "127.0.0.1:\(metricsPort)"}
            """
        let configuration = try AgentConfiguration.parse(yaml: yaml, file: directory.file("vigil.yaml").path)
        var logger = Logger(label: "live-test")
        logger.logLevel = .warning
        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer",
                                                                        reconnectDelay: .init(min: .milliseconds(100), max: .milliseconds(500))))
        try await observer.connect()
        try await observer.subscribe("vigil/#", qos: .atLeastOnce)
        let agent = LiveAgent(configuration: configuration, catalog: catalog, model: nil, registry: nil, logger: logger)
        let group = try await agent.makeServiceGroup(signals: false)
        let task = Task { try await group.run() }
        return Running(broker: broker, directory: directory, group: group, task: task, observer: observer, metricsPort: metricsPort)
    }

    /// Collects observed messages until `done` says enough, or the timeout.
    func observe(_ observer: MQTTClient, seconds: Double, until done: @escaping @Sendable ([MQTTMessage]) -> Bool) async -> [MQTTMessage] {
        await withTaskGroup(of: [MQTTMessage].self) { group in
            group.addTask {
                var seen: [MQTTMessage] = []
                for await m in observer.messages {
                    seen.append(m)
                    if done(seen) { break }
                }
                return seen
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return []
            }
            let first = await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    func publish(_ client: MQTTClient, sensor: String, value: String, at ts: Int64) async throws {
        let topic = try #require(catalog.sensor(SensorID(sensor))).topic
        try await client.publish(topic: topic, payload: Array("{\"ts\":\(ts),\"value\":\(value)}".utf8), qos: .atLeastOnce)
    }

    @Test(.timeLimit(.minutes(2))) func readingsBecomeAlertsActiveAlarmsStatusAndUpstreamEvents() async throws {
        guard let running = try await start() else { return }
        // A short recording of the plant with a spike and an out-of-range overfill.
        let dir = running.directory
        var scenario = Scenario(name: "t", summary: "", duration: 1500, seed: 11, faults: [
            FaultInjection(kind: .spike, target: "pump1.discharge_pressure", start: 1200, duration: 2),
        ])
        scenario.duration = 1500
        let recording = dir.file("short.csv").path
        _ = try SimulateJob(catalogPath: RepositoryPaths.file("sensors/plant.yaml"), scenario: scenario, output: recording).run()
        var replay = BrokerReplay(recording: recording, catalog: catalog,
                                  broker: try MQTTConfiguration(url: running.broker.url, clientID: "feeder"))
        replay.qos = 1
        let report = try await replay.run(logger: Logger(label: "feeder"))
        #expect(report.published > 10_000)

        let seen = await observe(running.observer, seconds: 20) { messages in
            messages.contains { $0.topic.hasPrefix("vigil/test/alerts/pump1/pump1.discharge_pressure") }
                && messages.contains { $0.topic == "vigil/north/test/events" }
                && messages.contains { $0.topic == "vigil/north/test/status" }
        }
        let alerts = seen.filter { $0.topic.hasPrefix("vigil/test/alerts/") }
        #expect(!alerts.isEmpty, "no alert observed; topics: \(Set(seen.map(\.topic)))")

        var alertSchema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "alert.schema.json")
        var eventSchema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "event.schema.json")
        var statusSchema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "status.schema.json")
        for m in alerts {
            #expect(try alertSchema.validate(JSONValue.parse(m.payload)).isEmpty)
        }
        let events = seen.filter { $0.topic == "vigil/north/test/events" }
        #expect(!events.isEmpty)
        for m in events {
            let failures = try eventSchema.validate(JSONValue.parse(m.payload))
            #expect(failures.isEmpty, "\(failures)")
        }
        let statuses = seen.filter { $0.topic == "vigil/test/status" || $0.topic == "vigil/north/test/status" }
        #expect(!statuses.isEmpty)
        for m in statuses { #expect(try statusSchema.validate(JSONValue.parse(m.payload)).isEmpty) }

        // A dashboard that connects late sees the open alarms (retained) and the status.
        let late = try MQTTClient(configuration: MQTTConfiguration(host: running.broker.host, port: running.broker.port, clientID: "late"))
        try await late.connect()
        try await late.subscribe("vigil/test/status", qos: .atLeastOnce)
        let retained = await observe(late, seconds: 5) { $0.contains { $0.retain } }
        #expect(retained.contains { $0.retain && String(decoding: $0.payload, as: UTF8.self).contains("\"state\":\"online\"") })
        await late.disconnect()

        try await running.stop()
        // After a clean shutdown the retained status says offline (read with the broker's own client).
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", running.broker.host, "-p", "\(running.broker.port)", "-t", "vigil/test/status", "-C", "1", "-W", "5"]
        let pipe = Pipe()
        sub.standardOutput = pipe
        try sub.run()
        sub.waitUntilExit()
        let final = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(final.contains("\"state\":\"offline\""), "retained status after shutdown: \(final)")
        running.broker.stop()
    }

    /// Drift watch: an agent whose model is missing narrates every alert with the template; the
    /// status message and /metrics say that narration is degraded.
    @Test(.timeLimit(.minutes(2))) func degradedNarrationIsReportedOnTheStatusTopic() async throws {
        guard let running = try await start(upstream: false, narration: "{model: /nonexistent/model.gguf, drift: {min_narrations: 1}}") else { return }
        var scenario = Scenario(name: "t", summary: "", duration: 1500, seed: 11, faults: [
            FaultInjection(kind: .spike, target: "pump1.discharge_pressure", start: 1200, duration: 2),
        ])
        scenario.duration = 1500
        let recording = running.directory.file("short.csv").path
        _ = try SimulateJob(catalogPath: RepositoryPaths.file("sensors/plant.yaml"), scenario: scenario, output: recording).run()
        var replay = BrokerReplay(recording: recording, catalog: catalog,
                                  broker: try MQTTConfiguration(url: running.broker.url, clientID: "feeder"))
        replay.qos = 1
        _ = try await replay.run(logger: Logger(label: "feeder"))
        let seen = await observe(running.observer, seconds: 30) { messages in
            messages.contains { $0.topic == "vigil/test/status" && String(decoding: $0.payload, as: UTF8.self).contains("\"figure\":\"model_share\"") }
        }
        let status = try #require(seen.last { $0.topic == "vigil/test/status" && String(decoding: $0.payload, as: UTF8.self).contains("model_share") },
                                  "no status with a drift warning; topics: \(Set(seen.map(\.topic)))")
        let text = String(decoding: status.payload, as: UTF8.self)
        #expect(text.contains("\"model_share\":0"), "\(text)")
        #expect(text.contains("\"no_model\":"), "\(text)")
        var statusSchema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "status.schema.json")
        let failures = try statusSchema.validate(JSONValue.parse(status.payload))
        #expect(failures.isEmpty, "\(failures)")

        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(running.metricsPort)/metrics")!)
        let metrics = String(decoding: data, as: UTF8.self)
        #expect(metrics.contains("vigil_narration_drift_warning{figure=\"model_share\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("drift") })")
        #expect(metrics.contains("vigil_narration_fallbacks_total{reason=\"no_model\"}"))
        try await running.stop()
        running.broker.stop()
    }

    @Test(.timeLimit(.minutes(2))) func survivesABrokerRestartAndGarbageOnTheWire() async throws {
        guard let running = try await start(upstream: false) else { return }
        let feeder = try MQTTClient(configuration: MQTTConfiguration(host: running.broker.host, port: running.broker.port, clientID: "feeder",
                                                                      reconnectDelay: .init(min: .milliseconds(100), max: .milliseconds(500))))
        try await feeder.connect()
        let now = Int64(Date().timeIntervalSince1970 * 1000)

        // Garbage of every kind, interleaved with good readings.
        let flowTopic = try #require(catalog.sensor("pump1.flow")).topic
        let garbage: [[UInt8]] = [
            Array("{\"value\":".utf8), Array("NaN".utf8), Array("{\"value\":\"12\"}".utf8), [0xFF, 0xFE, 0x00],
            Array("{\"ts\":\"yesterday\",\"value\":1}".utf8), Array(repeating: UInt8(ascii: "9"), count: 100_000),
            Array("{\"value\":1e999}".utf8), Array("[]".utf8),
        ]
        for i in 0..<2000 {
            try await feeder.publish(topic: flowTopic, payload: garbage[i % garbage.count], qos: .atMostOnce)
            if i % 10 == 0 {
                try await publish(feeder, sensor: "pump1.flow", value: "100", at: now + Int64(i))
                try await publish(feeder, sensor: "pump2.flow", value: "\(95 + i % 7)", at: now + Int64(i))
            }
        }
        // Still working: an out-of-range reading opens an alert.
        for k in 0..<5 { try await publish(feeder, sensor: "pump1.flow", value: "950", at: now + 3000 + Int64(k) * 1000) }
        let first = await observe(running.observer, seconds: 15) { $0.contains { $0.topic == "vigil/test/alerts/pump1/pump1.flow" } }
        #expect(first.contains { $0.topic == "vigil/test/alerts/pump1/pump1.flow" }, "no alert after the garbage")

        // The metrics count each refusal by reason.
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(running.metricsPort)/metrics")!)
        let metrics = String(decoding: data, as: UTF8.self)
        for reason in ["malformed", "wrong_type", "non_finite", "bad_timestamp", "oversized"] {
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("vigil_readings_rejected_total{reason=\"\(reason)\"}") }
            let count = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            #expect(count > 0, "no refusal counted for \(reason)")
        }

        // The broker dies and comes back on the same port: the agent reconnects and resubscribes.
        running.broker.kill()
        try await Task.sleep(for: .milliseconds(300))
        try running.broker.restart()
        for _ in 0..<100 where !feeder.isConnected { try await Task.sleep(for: .milliseconds(100)) }
        var reconnected = false
        for _ in 0..<50 where !reconnected {
            try await Task.sleep(for: .milliseconds(200))
            let (d, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(running.metricsPort)/healthz")!)
            reconnected = String(decoding: d, as: UTF8.self).contains("\"ok\"")
        }
        #expect(reconnected)
        try await Task.sleep(for: .milliseconds(500))
        for k in 0..<5 { try await publish(feeder, sensor: "pump2.flow", value: "990", at: now + 9000 + Int64(k) * 1000) }
        let second = await observe(running.observer, seconds: 15) { $0.contains { $0.topic == "vigil/test/alerts/pump2/pump2.flow" } }
        #expect(second.contains { $0.topic == "vigil/test/alerts/pump2/pump2.flow" }, "no alert after the broker restart")
        await feeder.disconnect()
        try await running.stop()
        running.broker.stop()
    }
}
