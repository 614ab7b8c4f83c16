import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("Floods and the inbound buffer")
struct FloodTests {
    @Test("50,000 messages below the buffer capacity: all arrive, in order, none dropped")
    func floodWithinCapacity() async throws {
        guard let broker = try startBroker() else { return }
        let total = 50_000
        var config = configuration(broker)
        config.inboundBufferCapacity = 60_000
        let client = try await connectedClient(config)
        try await client.subscribe("flood/#", qos: .atMostOnce)
        let publisher = try await connectedClient(configuration(broker))
        for sequence in 0..<total {
            try await publisher.publish(topic: "flood/a", string: "{\"v\":\(sequence)}", qos: .atMostOnce)
        }
        try await eventually(30, "\(total) received") { client.statistics.received >= total }
        let messages = try await collect(total, from: client, seconds: 30)
        #expect(messages.count == total)
        #expect(messages.first?.payloadString == "{\"v\":0}")
        #expect(messages.last?.payloadString == "{\"v\":\(total - 1)}")
        #expect(client.statistics.dropped == 0)
        #expect(client.statistics.received == total)
        await publisher.disconnect()
        await client.disconnect()
    }

    @Test("above the capacity, the overflow is dropped and counted", arguments: [MQTTOverflowPolicy.dropOldest, .dropNewest])
    func floodAboveCapacity(policy: MQTTOverflowPolicy) async throws {
        guard let broker = try startBroker() else { return }
        let total = 5_000
        let capacity = 1_000
        var config = configuration(broker)
        config.inboundBufferCapacity = capacity
        config.inboundOverflowPolicy = policy
        let client = try await connectedClient(config)
        try await client.subscribe("flood/#", qos: .atMostOnce)
        for sequence in 0..<total {
            try await client.publish(topic: "flood/b", string: "\(sequence)", qos: .atMostOnce)
        }
        try await eventually(20, "\(total) received") { client.statistics.received >= total }
        #expect(client.statistics.dropped == total - capacity)
        let kept = try await collect(capacity, from: client)
        let expectedFirst = policy == .dropOldest ? total - capacity : 0
        #expect(kept.first?.payloadString == "\(expectedFirst)")
        #expect(kept.last?.payloadString == "\(expectedFirst + capacity - 1)")
        await client.disconnect()
    }
}
