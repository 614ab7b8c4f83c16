import Foundation
import MQTT
import Synchronization
import Testing
import VigilTestSupport

@Suite("Round trips through a real mosquitto")
struct RoundTripTests {
    @Test("publish and receive", arguments: [MQTTQoS.atMostOnce, .atLeastOnce, .exactlyOnce])
    func roundTrip(qos: MQTTQoS) async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        try await client.subscribe("vigil/test/#", qos: qos)
        let payloads = (0..<20).map { Array("{\"seq\":\($0)}".utf8) }
        for payload in payloads {
            try await client.publish(topic: "vigil/test/reading", payload: payload, qos: qos)
        }
        let received = try await collect(payloads.count, from: client)
        #expect(received.map(\.payload) == payloads)
        #expect(received.allSatisfy { $0.topic == "vigil/test/reading" && $0.qos == qos && !$0.retain })
        let statistics = client.statistics
        #expect(statistics.published == payloads.count)
        #expect(statistics.received == payloads.count)
        #expect(statistics.dropped == 0)
        await client.disconnect()
        #expect(client.connectionState == .closed)
    }

    @Test("many concurrent acknowledged publishes each get their own ack", arguments: [MQTTQoS.atLeastOnce, .exactlyOnce])
    func concurrentPublishes(qos: MQTTQoS) async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker)
        config.maxInflightMessages = 10   // most of them wait in libmosquitto's queue
        let client = try await connectedClient(config)
        try await client.subscribe("many/#", qos: qos)
        let count = 1_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask { try await client.publish(topic: "many/\(index % 7)", string: "\(index)", qos: qos) }
            }
            try await group.waitForAll()
        }
        #expect(client.statistics.published == count)
        #expect(client.statistics.publishFailures == 0)
        let received = try await collect(count, from: client, seconds: 20)
        #expect(Set(received.compactMap(\.payloadString)) == Set((0..<count).map { "\($0)" }))
        await client.disconnect()
    }

    @Test("wildcard subscriptions receive exactly the matching topics")
    func wildcards() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        try await client.subscribe("plant/+/temperature", qos: .atLeastOnce)
        try await client.subscribe("line1/#", qos: .atLeastOnce)
        let topics = [
            "plant/press-1/temperature",      // +
            "plant/press-1/oil/temperature",  // no: + is one level
            "line1",                          // # matches the parent
            "line1/motor/current",            // #
            "line2/motor/current",            // no
            "plant/press-2/temperature",      // +
        ]
        for topic in topics {
            try await client.publish(topic: topic, payload: Array(topic.utf8), qos: .atLeastOnce)
        }
        try await client.publish(topic: "end/marker", payload: [], qos: .atLeastOnce)
        try await client.subscribe("end/marker", qos: .atLeastOnce)
        try await client.publish(topic: "end/marker", payload: [1], qos: .atLeastOnce)
        let received = try await collect(5, from: client)
        #expect(received.map(\.topic) == [
            "plant/press-1/temperature", "line1", "line1/motor/current", "plant/press-2/temperature", "end/marker",
        ])
        await client.disconnect()
    }

    @Test("a retained message reaches a late subscriber, flagged retained")
    func retained() async throws {
        guard let broker = try startBroker() else { return }
        let publisher = try await connectedClient(configuration(broker))
        try await publisher.publish(topic: "vigil/a1/status", string: "online", qos: .atLeastOnce, retain: true)
        let late = try await connectedClient(configuration(broker))
        try await late.subscribe("vigil/+/status", qos: .atLeastOnce)
        let received = try await collect(1, from: late)
        #expect(received.first?.payloadString == "online")
        #expect(received.first?.retain == true)
        // Clearing it: an empty retained payload.
        try await publisher.publish(topic: "vigil/a1/status", payload: [], qos: .atLeastOnce, retain: true)
        let third = try await connectedClient(configuration(broker))
        try await third.subscribe("vigil/+/status", qos: .atLeastOnce)
        try await third.publish(topic: "vigil/a2/status", string: "fresh", qos: .atLeastOnce)
        let afterClear = try await collect(1, from: third)
        #expect(afterClear.first?.payloadString == "fresh")
        await publisher.disconnect()
        await late.disconnect()
        await third.disconnect()
    }

    @Test("payloads arrive byte for byte: empty, binary with NULs, 1 MiB; UTF-8 topics")
    func payloads() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        try await client.subscribe("bytes/#", qos: .atLeastOnce)
        var generator = SystemRandomNumberGenerator()
        let large = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let cases: [(String, [UInt8])] = [
            ("bytes/empty", []),
            ("bytes/binary", [0, 1, 0, 255, 0xC3, 0x28, 0]),
            ("bytes/large", large),
            ("bytes/Überdruck/°C", Array("1.5".utf8)),
        ]
        for (topic, payload) in cases {
            try await client.publish(topic: topic, payload: payload, qos: .atLeastOnce)
        }
        let received = try await collect(cases.count, from: client)
        #expect(received.map(\.topic) == cases.map(\.0))
        #expect(received.map(\.payload) == cases.map(\.1))
        #expect(received[1].payloadString == nil)  // not UTF-8
        await client.disconnect()
    }

    @Test("MQTT 5 connect, subscribe and publish")
    func mqtt5() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker, version: .v5))
        #expect(client.isConnected)
        try await client.subscribe("v5/#", qos: .exactlyOnce)
        try await client.publish(topic: "v5/x", string: "five", qos: .exactlyOnce)
        try await client.publish(topic: "v5/y", string: "one", qos: .atLeastOnce)
        let received = try await collect(2, from: client)
        #expect(received.map(\.payloadString) == ["five", "one"])
        #expect(broker.log.contains("p5"))  // mosquitto logs the protocol of new clients as "p5"
        await client.disconnect()
    }
}

@Suite("Taps on the network thread")
struct TapTests {
    @Test("a tapped prefix reaches the tap and not the message stream, until untapped")
    func tapDivertsAPrefix() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        final class Seen: Sendable { let payloads = Mutex<[String]>([]) }
        let seen = Seen()
        client.tap(prefix: "held/") { message in seen.payloads.withLock { $0.append(message.payloadString ?? "") } }
        try await client.subscribe("held/#", qos: .atLeastOnce)
        try await client.subscribe("other/#", qos: .atLeastOnce)
        try await client.publish(topic: "held/a", string: "1", qos: .atLeastOnce)
        try await client.publish(topic: "other/a", string: "2", qos: .atLeastOnce)
        // The stream sees only the other topic; the tap got the held one.
        let first = try await collect(1, from: client)
        #expect(first.map(\.topic) == ["other/a"])
        try await eventually(5, "the tap got its message") { seen.payloads.withLock { $0 } == ["1"] }
        client.untap(prefix: "held/")
        try await client.publish(topic: "held/b", string: "3", qos: .atLeastOnce)
        let second = try await collect(1, from: client)
        #expect(second.map(\.topic) == ["held/b"])
        #expect(seen.payloads.withLock { $0 } == ["1"])
        await client.disconnect()
    }
}
