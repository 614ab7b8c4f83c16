import Agent
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MQTT
import ServiceLifecycle
import Synchronization
import Telemetry
import Testing
import VigilTestSupport

/// `vigil run` against a real mosquitto and a Sparkplug B edge node: field reports of issue #14.
@Suite(.serialized, .enabled(if: MosquittoBroker.isAvailable, "mosquitto is not installed"))
struct LiveSparkplugFieldTests {
    struct Running {
        let broker: MosquittoBroker
        let directory: TemporaryDirectory
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let observer: MQTTClient
        let edge: MQTTClient
        let metricsPort: Int

        func metrics() async throws -> String {
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!)
            return String(decoding: data, as: UTF8.self)
        }

        func metric(_ line: String) async throws -> Double {
            let text = try await metrics()
            let found = text.split(separator: "\n").first { $0.hasPrefix(line + " ") }
            return found.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }

        /// `line`'s value once it reaches `target`, or its last value after 15 s (the gauges follow every 5 s).
        func metric(_ line: String, reaching target: Double) async throws -> Double {
            var value = 0.0
            for _ in 0..<150 {
                value = try await metric(line)
                if value >= target { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            return value
        }

        func stop() async throws {
            await edge.disconnect()
            await group.triggerGracefulShutdown()
            try await task.value
            await observer.disconnect()
            broker.stop()
            directory.remove()
        }
    }

    func start(observe topics: [String], ingest: String = "max_future_skew: 30d",
               catalog catalogYAML: String = SparkplugIngestTests.yaml) async throws -> Running {
        let broker = try MosquittoBroker()
        let directory = try TemporaryDirectory(prefix: "vigil-spb-field")
        let catalogPath = directory.file("plant.yaml").path
        try catalogYAML.write(toFile: catalogPath, atomically: true, encoding: .utf8)
        let metricsPort = try MosquittoBroker.freePort()
        let yaml = """
            agent: {name: spb, catalog: \(catalogPath), state_dir: \(directory.path)}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            ingest: {\(ingest)}
            narration: {enabled: false}
            metrics: {listen: "127.0.0.1:\(metricsPort)"}
            """
        let configuration = try AgentConfiguration.parse(yaml: yaml, file: directory.file("vigil.yaml").path)
        let catalog = try Catalog.load(file: catalogPath)
        var logger = Logger(label: "spb-field-test")
        logger.logLevel = .warning
        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer"))
        try await observer.connect()
        for topic in topics { try await observer.subscribe(topic, qos: .atLeastOnce) }
        let agent = LiveAgent(configuration: configuration, catalog: catalog, model: nil, registry: nil, logger: logger)
        let group = try await agent.makeServiceGroup(signals: false)
        let task = Task { try await group.run() }
        let edge = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "edge"))
        try await edge.connect()
        // Wait until the agent is subscribed: its metrics endpoint answers and a probe reading is counted.
        let running = Running(broker: broker, directory: directory, group: group, task: task, observer: observer, edge: edge,
                              metricsPort: metricsPort)
        return running
    }

    /// Births until the agent has read one (it may not have subscribed when the first goes out).
    func birth(_ running: Running, at t: UInt64) async throws {
        for _ in 0..<100 {
            try await running.edge.publish(topic: "spBv1.0/north/DBIRTH/gw1/pump1", payload: ProtobufWriter.payload(timestamp: t, seq: 0, metrics: [
                ProtobufWriter.metric(name: "Flow", alias: 1, .double(100)),
                ProtobufWriter.metric(name: "Motor/Current", alias: 2, .float(30)),
            ]), qos: .atLeastOnce)
            try await Task.sleep(for: .milliseconds(100))
            if (try? await running.metric("vigil_readings_total")) ?? 0 > 0 { return }
        }
        Issue.record("the agent never read a birth")
    }

    @Test(.timeLimit(.minutes(2))) func aNaNMetricDoesNotDiscardTheAlertOfAGoodMetricOfTheSamePayload() async throws {
        let running = try await start(observe: ["vigil/spb/alerts/#"])
        let alerts = AlertLog()
        let collector = Task {
            for await message in running.observer.messages { alerts.append(message) }
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        try await birth(running, at: now)
        for i in 1...20 {
            try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                timestamp: now + UInt64(i) * 100, seq: UInt64(i), metrics: [
                    ProtobufWriter.metric(alias: 1, .double(100 + Double(i % 3))),
                    ProtobufWriter.metric(alias: 2, .float(30)),
                ]), qos: .atLeastOnce)
        }
        // Flow far out of range, and in the same payload a NaN current.
        try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
            timestamp: now + 2500, seq: 21, metrics: [
                ProtobufWriter.metric(alias: 1, .double(480)),
                ProtobufWriter.metric(alias: 2, .float(.nan)),
            ]), qos: .atLeastOnce)
        var seen: [MQTTMessage] = []
        for _ in 0..<100 {
            seen = alerts.messages
            if seen.contains(where: { $0.topic == "vigil/spb/alerts/pump1/pump1.flow" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        collector.cancel()
        let alert = try #require(seen.first { $0.topic == "vigil/spb/alerts/pump1/pump1.flow" },
                                 "the good metric's alert was thrown away with the NaN")
        let text = String(decoding: alert.payload, as: UTF8.self)
        #expect(text.contains("\"stage\":\"opened\""), "\(text)")
        #expect(text.contains("\"peak\":480"), "\(text)")
        #expect(try await running.metric("vigil_readings_rejected_total{reason=\"non_finite\"}") == 1)
        // Alarm health live: the alert is among those of the last 10 minutes (the gauges follow every 5 s).
        let recent = try await running.metric("vigil_alarm_rate_10m", reaching: 1)
        #expect(recent >= 1, "vigil_alarm_rate_10m \(recent)")
        #expect(try await running.metric("vigil_alarm_flood") == 0)
        #expect(try await running.metric("vigil_alarms_standing") == 0)
        try await running.stop()
    }

    @Test(.timeLimit(.minutes(2))) func readingsAreCountedPerMetricAndUnknownAliasesAskForARebirth() async throws {
        // A second edge node (gw2) with one sensor, for the per-node rebirth limit.
        let running = try await start(observe: ["spBv1.0/north/NCMD/#"], catalog: SparkplugIngestTests.yaml + """

              - {id: pump9.flow, asset: pump1, topic: spBv1.0/north/DDATA/gw2/pump9, metric: Flow, unit: m3/h}
            """)
        let commands = AlertLog()
        let collector = Task {
            for await message in running.observer.messages { commands.append(message) }
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        // Data by alias before any birth (the agent restarted; births are not retained), sent until the
        // agent asks for a rebirth.
        var asked: MQTTMessage?
        for i in 0..<100 where asked == nil {
            try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                timestamp: now + UInt64(i), seq: UInt64(i % 256), metrics: [
                    ProtobufWriter.metric(alias: 1, .double(100)),
                    ProtobufWriter.metric(alias: 2, .float(30)),
                ]), qos: .atLeastOnce)
            try await Task.sleep(for: .milliseconds(100))
            asked = commands.messages.first
        }
        let request = try #require(asked, "no rebirth request")
        #expect(request.topic == "spBv1.0/north/NCMD/gw1")
        let payload = try SparkplugPayload.decode(request.payload)
        #expect(payload.metrics.first?.name == "Node Control/Rebirth")
        #expect(payload.metrics.first?.value == .bool(true))
        // What was dropped meanwhile is counted, not accepted.
        #expect(try await running.metric("vigil_readings_total") == 0)
        #expect(try await running.metric("vigil_readings_rejected_total{reason=\"unknown_alias\"}") >= 2)
        #expect(try await running.metric("vigil_sparkplug_rebirth_requests_total") >= 1)

        // A burst of more alias-only data from the same node asks no more (one request per node per
        // 10 s); another node gets its own request.
        let rejectedBefore = try await running.metric("vigil_readings_rejected_total{reason=\"unknown_alias\"}")
        let requestsBefore = try await running.metric("vigil_sparkplug_rebirth_requests_total")
        let commandsBefore = commands.messages.count
        for i in 0..<50 {
            try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                timestamp: now + 200 + UInt64(i), seq: UInt64(i % 256), metrics: [ProtobufWriter.metric(alias: 1, .double(100))]),
                qos: .atLeastOnce)
        }
        try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw2/pump9", payload: ProtobufWriter.payload(
            timestamp: now + 300, seq: 0, metrics: [ProtobufWriter.metric(alias: 7, .double(1))]), qos: .atLeastOnce)
        for _ in 0..<100 {
            if try await running.metric("vigil_readings_rejected_total{reason=\"unknown_alias\"}") >= rejectedBefore + 51 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await running.metric("vigil_readings_rejected_total{reason=\"unknown_alias\"}") >= rejectedBefore + 51)
        for _ in 0..<50 where commands.messages.count == commandsBefore { try await Task.sleep(for: .milliseconds(100)) }
        try await Task.sleep(for: .milliseconds(300))   // time for any further request to show
        #expect(try await running.metric("vigil_sparkplug_rebirth_requests_total") == requestsBefore + 1)
        let newCommands = commands.messages.dropFirst(commandsBefore).map(\.topic)
        #expect(newCommands == ["spBv1.0/north/NCMD/gw2"], "rebirth requests after the burst: \(newCommands)")

        // The node rebirths (two metrics), then sends 30 messages of two readings each.
        try await birth(running, at: now + 1000)
        for i in 1...30 {
            try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                timestamp: now + 1000 + UInt64(i) * 100, seq: UInt64(i), metrics: [
                    ProtobufWriter.metric(alias: 1, .double(100 + Double(i % 3))),
                    ProtobufWriter.metric(alias: 2, .float(30)),
                ]), qos: .atLeastOnce)
        }
        var counted = 0.0
        for _ in 0..<100 {
            counted = try await running.metric("vigil_readings_total")
            if counted >= 62 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // One birth or more (each two readings), 60 data readings: readings, not messages.
        #expect(counted >= 62 && Int(counted) % 2 == 0, "vigil_readings_total \(counted)")
        collector.cancel()
        try await running.stop()
    }
}

extension LiveSparkplugFieldTests {
    @Test(.timeLimit(.minutes(2))) func aFloodingTopicIsRateLimitedAndCountedOnMetrics() async throws {
        let running = try await start(observe: [], ingest: "max_future_skew: 30d, max_rate_per_topic: 20")
        try await birth(running, at: UInt64(Date().timeIntervalSince1970 * 1000))
        let now = UInt64(Date().timeIntervalSince1970 * 1000) + 1000
        for i in 0..<2000 {
            try await running.edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                timestamp: now + UInt64(i), seq: UInt64(i % 256), metrics: [ProtobufWriter.metric(alias: 1, .double(100))]),
                qos: .atMostOnce)
        }
        let limited = try await running.metric("vigil_mqtt_rate_limited_total{link=\"local\"}", reaching: 1000)
        // 2,000 sent against a burst of 100 and 20/s: most are refused on arrival, and the metric says so.
        #expect(limited >= 1000, "vigil_mqtt_rate_limited_total \(limited)")
        let read = try await running.metric("vigil_readings_total")
        #expect(read < 1000, "vigil_readings_total \(read): the flood was not limited")
        try await running.stop()
    }
}

/// Messages an observer saw, shared with the test.
final class AlertLog: Sendable {
    private let log = Mutex<[MQTTMessage]>([])
    func append(_ m: MQTTMessage) { log.withLock { $0.append(m) } }
    var messages: [MQTTMessage] { log.withLock { $0 } }
}
