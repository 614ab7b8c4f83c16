import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("Sessions, unsubscribe and broker refusals")
struct SessionTests {
    @Test("unsubscribe stops delivery")
    func unsubscribe() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        try await client.subscribe("u/a", qos: .atLeastOnce)
        try await client.subscribe("u/marker", qos: .atLeastOnce)
        try await client.unsubscribe("u/a")
        try await client.publish(topic: "u/a", string: "gone", qos: .atLeastOnce)
        try await client.publish(topic: "u/marker", string: "marker", qos: .atLeastOnce)
        let received = try await collect(1, from: client)
        #expect(received.map(\.topic) == ["u/marker"])
        await client.disconnect()
    }

    @Test("a persistent session survives a dropped connection: sessionPresent, messages flow", arguments: [MQTTProtocolVersion.v311, .v5])
    func persistentSession(version: MQTTProtocolVersion) async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker, clientID: "persistent-\(version.rawValue)", version: version)
        config.cleanSession = false
        let client = try await connectedClient(config)
        try await client.subscribe("p/#", qos: .atLeastOnce)
        let states = client.connectionStates
        client.abortConnection()
        try await within(5, "a reconnect with the session") {
            for await state in states where state == .connected(sessionPresent: true) { return }
        }
        let publisher = try await connectedClient(configuration(broker))
        try await publisher.publish(topic: "p/x", string: "kept", qos: .atLeastOnce)
        let received = try await collect(1, from: client)
        #expect(received.first?.payloadString == "kept")
        #expect(client.statistics.reconnects == 1)
        await publisher.disconnect()
        await client.disconnect()
    }

    @Test("the test broker's persistence keeps retained messages across stop and restart")
    func brokerPersistence() async throws {
        guard let broker = try startBroker(.init(persistence: true)) else { return }
        let publisher = try await connectedClient(configuration(broker))
        try await publisher.publish(topic: "keep/me", string: "retained", qos: .atLeastOnce, retain: true)
        await publisher.disconnect()
        broker.stop()
        try broker.restart()
        let reader = try await connectedClient(configuration(broker))
        try await reader.subscribe("keep/#", qos: .atLeastOnce)
        let received = try await collect(1, from: reader)
        #expect(received.first?.payloadString == "retained")
        await reader.disconnect()
    }

    @Test("MQTT 5: a publish the broker's ACL denies throws publishRejected")
    func accessControl() async throws {
        guard MosquittoBroker.isAvailable else { return }
        let directory = try TemporaryDirectory()
        let acl = try directory.write("topic readwrite allowed/#\n", to: "acl")
        guard let broker = try startBroker(.init(extraConfiguration: ["acl_file \(acl)"])) else { return }

        let v311 = try await connectedClient(configuration(broker))
        try await v311.subscribe("allowed/#", qos: .atLeastOnce)

        let v5 = try await connectedClient(configuration(broker, version: .v5))
        let error = await #expect(throws: MQTTError.self) {
            try await v5.publish(topic: "denied/x", string: "nope", qos: .atLeastOnce)
        }
        guard case .publishRejected(let code, let reason)? = error else {
            Issue.record("expected publishRejected, got \(String(describing: error))")
            return
        }
        #expect(code == 0x87)
        #expect(reason.lowercased().contains("authori"))
        try await v5.publish(topic: "allowed/x", string: "yes", qos: .atLeastOnce)
        let received = try await collect(1, from: v311)
        #expect(received.first?.payloadString == "yes")
        await v311.disconnect()
        await v5.disconnect()
    }
}
