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
        // The traffic comes from another process (mosquitto_pub every 50 ms), started before the busy topic is
        // subscribed, so a loaded machine that delays this test's tasks cannot make the busy topic look silent.
        guard let pub = MosquittoClients.path("mosquitto_pub") else { return }
        let feeder = Process()
        feeder.executableURL = URL(fileURLWithPath: "/bin/sh")
        feeder.arguments = ["-c", "while :; do '\(pub)' -h 127.0.0.1 -p \(broker.port) -t plant/busy -m 1; sleep 0.05; done"]
        try feeder.run()
        defer { kill(feeder.processIdentifier, SIGKILL) }
        // The quiet topic's limit is 3 s; the busy topic's and the wildcard's 10 s, which a feeder that a loaded
        // machine slows to one message in several seconds still meets (a full run once took over 3 s).
        try await client.subscribe("plant/busy", qos: .atMostOnce, silenceTimeout: .seconds(10))
        try await client.subscribe("plant/quiet", qos: .atMostOnce, silenceTimeout: .seconds(3))
        try await client.subscribe("plant/+", qos: .atMostOnce, silenceTimeout: .seconds(10))
        func next(_ what: String, where wanted: @escaping @Sendable (MQTTWatchdogEvent) -> Bool) async throws -> [MQTTWatchdogEvent] {
            try await within(20, what) { () -> [MQTTWatchdogEvent] in
                var seen: [MQTTWatchdogEvent] = []
                for await event in events {
                    seen.append(event)
                    if wanted(event) { break }
                }
                return seen
            }
        }
        let first = try await next("a silence report") { if case .silent = $0 { return true } else { return false } }
        guard case .silent(let filter, _)? = first.last else {
            Issue.record("expected a silence event, got \(first)")
            return
        }
        #expect(first.count == 1 && filter == "plant/quiet", "\(first)")
        try await Task.sleep(for: .milliseconds(800))
        #expect(client.silentSubscriptions == ["plant/quiet"])
        try await client.publish(topic: "plant/quiet", string: "2", qos: .atMostOnce)
        let second = try await next("a resume report") { $0 == .resumed(filter: "plant/quiet") }
        #expect(second.last == .resumed(filter: "plant/quiet"))
        // The busy topic and the wildcard never went silent on the way.
        #expect(!second.contains { if case .silent(let f, _) = $0 { f != "plant/quiet" } else { false } }, "\(second)")
        await client.disconnect()
    }
}
