import Foundation
import MQTT
import Testing
import VigilTestSupport

/// One flooding topic cannot starve the others: the per-topic rate limit drops (and counts) the
/// flood on arrival, so a message on another topic is not queued behind thousands of the flood's.
@Suite("Per-topic fairness")
struct FairnessTests {
    @Test("a breach on a quiet topic arrives ahead of a flood on another, which is rate-limited and counted")
    func floodDoesNotStarveOtherTopics() async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker)
        config.perTopicRateLimit = MQTTRateLimit(messagesPerSecond: 50, burst: 100)
        config.inboundBufferCapacity = 100_000
        let agent = try await connectedClient(config)
        try await agent.subscribe("plant/flood", qos: .atMostOnce)
        try await agent.subscribe("plant/breach", qos: .atMostOnce)
        let feeder = try await connectedClient(configuration(broker))

        let flood = 20_000
        for i in 0..<flood {
            try await feeder.publish(topic: "plant/flood", string: "\(i)", qos: .atMostOnce)
        }
        try await feeder.publish(topic: "plant/breach", string: "999", qos: .atLeastOnce)

        // Count what arrives before the breach (ordering, not wall-clock bounds).
        let floodBefore = try await within(60, "the breach message") { () -> Int in
            var n = 0
            for await message in agent.messages {
                if message.topic == "plant/breach" { return n }
                n += 1
            }
            return -1
        }
        #expect(floodBefore >= 0, "the breach never arrived")
        // The burst, plus 50/s for however long the flood took: far below the 20,000 sent.
        #expect(floodBefore < 5_000, "\(floodBefore) flood messages were delivered ahead of the breach")
        let statistics = agent.statistics
        #expect(statistics.rateLimited > 10_000)
        #expect(statistics.rateLimitedTopics["plant/flood"] == statistics.rateLimited)
        #expect(statistics.rateLimitedTopics["plant/breach"] == nil)
        await feeder.disconnect()
        await agent.disconnect()
    }

    @Test("a topic within its rate loses nothing")
    func withinTheRateNothingIsDropped() async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker)
        config.perTopicRateLimit = MQTTRateLimit(messagesPerSecond: 1, burst: 50)
        let agent = try await connectedClient(config)
        try await agent.subscribe("plant/+", qos: .atLeastOnce)
        let feeder = try await connectedClient(configuration(broker))
        for i in 0..<40 { try await feeder.publish(topic: "plant/s\(i % 4)", string: "\(i)", qos: .atLeastOnce) }
        let received = try await within(30, "40 messages") { () -> Int in
            var n = 0
            for await _ in agent.messages {
                n += 1
                if n == 40 { break }
            }
            return n
        }
        #expect(received == 40)
        #expect(agent.statistics.rateLimited == 0)
        await feeder.disconnect()
        await agent.disconnect()
    }
}
