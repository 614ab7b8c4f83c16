import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("Subscribing to a large catalog")
struct SubscribeManyTests {
    /// A catalog's worth of topics in one call: several SUBSCRIBE packets, every topic live, and all
    /// of them sent again (in packets) when the broker comes back without the session.
    @Test("1,234 topics in one call are all subscribed, and subscribed again after the broker restarts")
    func manyTopicsInOneCall() async throws {
        guard let broker = try startBroker() else { return }
        let topics = (0..<1_234).map { "bulk/\($0)/value" }
        let client = try await connectedClient(configuration(broker))
        try await within(10, "the SUBACKs") { try await client.subscribe(topics, qos: .atLeastOnce) }
        let publisher = try await connectedClient(configuration(broker))

        /// Publishes to a spread of the topics (first, last, across packet boundaries) until each has arrived.
        func everyPacketDelivers(_ when: String) async throws {
            let probes = Set([0, 499, 500, 999, 1_000, 1_233].map { topics[$0] })
            let stream = client.messages
            let received = Task {
                try await within(10, "a message on each probed topic (\(when))") {
                    var seen = Set<String>()
                    for await message in stream where message.payloadString == when {
                        seen.insert(message.topic)
                        if seen.isSuperset(of: probes) { break }
                    }
                    return seen
                }
            }
            let publishing = Task {
                while !Task.isCancelled {
                    for topic in probes { try await publisher.publish(topic: topic, string: when, qos: .atLeastOnce) }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { publishing.cancel() }
            #expect(try await received.value == probes, "\(when)")
        }
        try await everyPacketDelivers("first")

        broker.kill()
        try await waitForState(client, "the drop") { !$0.isConnected }
        try broker.restart()
        try await waitForState(client, "the reconnect") { $0.isConnected }
        try await eventually(10, "the publisher's reconnect") { publisher.connectionState.isConnected }
        try await everyPacketDelivers("after restart")
        #expect(client.statistics.subscriptionRejections == 0)
        await publisher.disconnect()
        await client.disconnect()
    }

    @Test("a malformed filter among many is refused before anything is sent; an empty list is a no-op")
    func badFilterRefusesTheCall() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        await #expect(throws: MQTTError.self) {
            try await client.subscribe(["ok/1", "bad/#/middle", "ok/2"], qos: .atLeastOnce)
        }
        try await client.subscribe([String](), qos: .atLeastOnce)
        let publisher = try await connectedClient(configuration(broker))
        try await client.subscribe(["ok/3"], qos: .atLeastOnce)
        let received = Task { try await collect(1, from: client, seconds: 5) }
        try await Task.sleep(for: .milliseconds(100))
        try await publisher.publish(topic: "ok/1", string: "never subscribed", qos: .atLeastOnce)
        try await publisher.publish(topic: "ok/3", string: "subscribed", qos: .atLeastOnce)
        let messages = try await received.value
        #expect(messages.map(\.topic) == ["ok/3"])
        await publisher.disconnect()
        await client.disconnect()
    }
}
