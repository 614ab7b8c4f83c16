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
}
