import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("Silent-subscription watchdog")
struct WatchdogTests {
    @Test("a subscription without messages for its timeout is reported, and reported back when messages resume")
    func silentAndResumed() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        let events = client.watchdogEvents
        try await client.subscribe("sensors/press-1/#", qos: .atLeastOnce, silenceTimeout: .milliseconds(400))
        try await client.subscribe("sensors/unwatched/#", qos: .atLeastOnce)

        let first = try await within(5, "a silence report") { () -> MQTTWatchdogEvent? in
            for await event in events { return event }
            return nil
        }
        guard case .silent(let filter, let silence)? = first else {
            Issue.record("expected a silence event, got \(String(describing: first))")
            return
        }
        #expect(filter == "sensors/press-1/#")
        #expect(silence >= .milliseconds(400))
        // Without messages it stays silent, and is reported once.
        #expect(client.silentSubscriptions == ["sensors/press-1/#"])
        #expect(client.statistics.silenceEvents == 1)
        #expect(client.statistics.silentSubscriptions == 1)

        try await client.publish(topic: "sensors/press-1/temp", string: "20.6", qos: .atLeastOnce)
        let second = try await within(5, "a resume report") { () -> MQTTWatchdogEvent? in
            for await event in events { return event }
            return nil
        }
        #expect(second == .resumed(filter: "sensors/press-1/#"))
        await client.disconnect()
    }

    /// Concrete topics (a catalog's) are found by lookup, not by matching every filter: the one with
    /// traffic stays active, the quiet one is reported, a wildcard filter still sees the traffic.
    @Test("concrete-topic subscriptions: the quiet one is reported, the busy one is not")
    func concreteTopics() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        let events = client.watchdogEvents
        let sensors = (0..<2_000).map { "plant/a\($0 / 10)/s\($0)" }
        // In one call (packets of 500), with a timeout no slow machine reaches during the test.
        try await client.subscribe(sensors, qos: .atMostOnce, silenceTimeout: .seconds(600))
        // 3 s: the feeder's 50 ms beat must not look silent when a loaded machine delays its task.
        try await client.subscribe("plant/busy", qos: .atMostOnce, silenceTimeout: .seconds(3))
        try await client.subscribe("plant/quiet", qos: .atMostOnce, silenceTimeout: .seconds(3))
        try await client.subscribe("plant/+", qos: .atMostOnce, silenceTimeout: .seconds(3))
        let feeder = Task {
            while !Task.isCancelled {
                try? await client.publish(topic: "plant/busy", string: "1", qos: .atMostOnce)
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { feeder.cancel() }
        let first = try await within(20, "a silence report") { () -> MQTTWatchdogEvent? in
            for await event in events { return event }
            return nil
        }
        guard case .silent(let filter, _)? = first else {
            Issue.record("expected a silence event, got \(String(describing: first))")
            return
        }
        #expect(filter == "plant/quiet")
        try await Task.sleep(for: .milliseconds(800))
        #expect(client.silentSubscriptions == ["plant/quiet"])
        try await client.publish(topic: "plant/quiet", string: "2", qos: .atMostOnce)
        let second = try await within(10, "a resume report") { () -> MQTTWatchdogEvent? in
            for await event in events { return event }
            return nil
        }
        #expect(second == .resumed(filter: "plant/quiet"))
        await client.disconnect()
    }
}
