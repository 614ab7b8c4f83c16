import Agent
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Synchronization
import Telemetry
import Testing
import VigilTestSupport

/// `vigil run` against a real mosquitto with a Sparkplug B edge node: DBIRTH announces aliases, DDATA
/// by alias becomes readings, an out-of-range metric becomes an alert on the local alert topic.
@Suite(.enabled(if: MosquittoBroker.isAvailable, "mosquitto is not installed"))
struct LiveSparkplugTests {
    @Test(.timeLimit(.minutes(2))) func sparkplugDeviceDataBecomesAlerts() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-spb")
        defer { directory.remove() }
        let catalogPath = directory.file("plant.yaml").path
        try SparkplugIngestTests.yaml.write(toFile: catalogPath, atomically: true, encoding: .utf8)
        let yaml = """
            agent: {name: spb, catalog: \(catalogPath), state_dir: \(directory.path)}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            narration: {enabled: false}
            metrics: {enabled: false}
            """
        let configuration = try AgentConfiguration.parse(yaml: yaml, file: directory.file("vigil.yaml").path)
        let catalog = try Catalog.load(file: catalogPath)
        var logger = Logger(label: "spb-test")
        logger.logLevel = .warning
        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer"))
        try await observer.connect()
        try await observer.subscribe("vigil/spb/alerts/#", qos: .atLeastOnce)
        let agent = LiveAgent(configuration: configuration, catalog: catalog, model: nil, registry: nil, logger: logger)
        let group = try await agent.makeServiceGroup(signals: false)
        let task = Task { try await group.run() }

        let edge = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "edge"))
        try await edge.connect()
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        // The edge node (re)births and sends data until the agent's alert is seen: the agent may not have
        // subscribed yet when the first messages go out, and Sparkplug data is not retained.
        let seen = SeenAlert()
        let alerts = Task {
            for await message in observer.messages where message.topic == "vigil/spb/alerts/pump1/pump1.flow" {
                seen.message.withLock { $0 = message }
                return
            }
        }
        var alert: MQTTMessage?
        var round: UInt64 = 0
        while alert == nil, round < 40 {
            let t = now + round * 3_000
            try await edge.publish(topic: "spBv1.0/north/DBIRTH/gw1/pump1", payload: ProtobufWriter.payload(timestamp: t, seq: 0, metrics: [
                ProtobufWriter.metric(name: "Flow", alias: 1, .double(100)),
                ProtobufWriter.metric(name: "Motor/Current", alias: 2, .float(30)),
            ]), qos: .atLeastOnce)
            for i in 1...20 {
                try await edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                    timestamp: t + UInt64(i) * 100, seq: UInt64(i), metrics: [
                        ProtobufWriter.metric(alias: 1, .double(100 + Double(i % 3))),
                        ProtobufWriter.metric(alias: 2, .float(30)),
                    ]), qos: .atLeastOnce)
            }
            try await edge.publish(topic: "spBv1.0/north/DDATA/gw1/pump1", payload: ProtobufWriter.payload(
                timestamp: t + 2500, seq: 21, metrics: [ProtobufWriter.metric(alias: 1, .double(480))]), qos: .atLeastOnce)
            round += 1
            for _ in 0..<10 where alert == nil {
                try await Task.sleep(for: .milliseconds(50))
                alert = seen.message.withLock { $0 }
            }
        }
        alerts.cancel()
        let received = try #require(alert, "no alert for the Sparkplug metric")
        var schema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "alert.schema.json")
        #expect(try schema.validate(JSONValue.parse(received.payload)).isEmpty)
        let text = String(decoding: received.payload, as: UTF8.self)
        #expect(text.contains("\"kind\":\"out_of_range\""), "\(text)")
        #expect(text.contains("\"peak\":480"), "\(text)")

        await edge.disconnect()
        await group.triggerGracefulShutdown()
        try await task.value
        await observer.disconnect()
    }
}

/// The first alert the observer saw, shared with the test.
final class SeenAlert: Sendable {
    let message = Mutex<MQTTMessage?>(nil)
}
