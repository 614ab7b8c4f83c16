import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("send(): several QoS 1 messages in flight, acknowledged through receipts")
struct ReceiptTests {
    @Test("sent messages are all in flight before any PUBACK; receipts settle on the PUBACKs; order is kept")
    func manyInFlight() async throws {
        guard let broker = try startBroker() else { return }
        let observer = try await connectedClient(configuration(broker))
        try await observer.subscribe("receipts/#", qos: .atLeastOnce)
        let client = try await connectedClient(configuration(broker))
        broker.pause()
        var receipts: [MQTTPublishReceipt] = []
        for index in 0..<8 {
            receipts.append(try client.send(topic: "receipts/\(index % 3)", payload: Array("\(index)".utf8), qos: .atLeastOnce))
        }
        #expect(Set(receipts.map(\.messageID)).count == 8, "each message has its own packet id")
        try await Task.sleep(for: .milliseconds(300))
        let settledEarly = receipts.filter(\.isSettled).count
        #expect(settledEarly == 0, "settled while the broker was frozen")
        #expect(client.statistics.published == 0)
        broker.resume()
        for receipt in receipts {
            try await within(5, "a PUBACK") { try await receipt.acknowledged() }
        }
        let settled = receipts.filter(\.isSettled).count
        #expect(settled == 8)
        #expect(client.statistics.published == 8)
        // Awaiting a settled receipt again returns at once.
        try await receipts[0].acknowledged()
        let received = try await collect(8, from: observer)
        #expect(received.map(\.payloadString) == (0..<8).map { "\($0)" })
        await client.disconnect()
        await observer.disconnect()
    }

    @Test("receipts of messages in flight fail with connectionLost when the broker dies")
    func receiptsFailOnConnectionLoss() async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker)
        config.reconnectDelay = MQTTReconnectDelay(min: .seconds(5), max: .seconds(5))
        let client = try await connectedClient(config)
        broker.pause()
        let receipts = try (0..<3).map { _ in try client.send(topic: "receipts/lost", payload: [1], qos: .atLeastOnce) }
        try await Task.sleep(for: .milliseconds(200))
        broker.kill()
        for receipt in receipts {
            let outcome: Result<Void, any Error> = try await within(5, "the failed receipt") {
                do {
                    try await receipt.acknowledged()
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            #expect(throws: MQTTError.connectionLost) { try outcome.get() }
        }
        try await waitForState(client, "disconnected") { !$0.isConnected }
        #expect(throws: MQTTError.notConnected) { try client.send(topic: "receipts/later", payload: [1]) }
        await client.disconnect()
        #expect(throws: MQTTError.clientClosed) { try client.send(topic: "receipts/later", payload: [1]) }
    }

    @Test("waiting for a receipt ends with CancellationError when the task is cancelled")
    func cancellableWait() async throws {
        guard let broker = try startBroker() else { return }
        // A keepalive long enough that a slow machine does not lose the connection while the broker is frozen.
        var config = configuration(broker)
        config.keepAlive = .seconds(60)
        let client = try await connectedClient(config)
        broker.pause()
        let receipt = try client.send(topic: "receipts/cancel", payload: [1], qos: .atLeastOnce)
        let waiting = Task { try await receipt.acknowledged() }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        let outcome = try await within(2, "the cancelled wait") { await waiting.result }
        #expect(throws: CancellationError.self) { try outcome.get() }
        broker.resume()
        // The message itself is still acknowledged.
        try await within(5, "the PUBACK") { try await receipt.acknowledged() }
        await client.disconnect()
    }

    @Test("invalid topics and QoS 0 sends are answered at once")
    func immediateOutcomes() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        #expect(throws: MQTTError.self) { try client.send(topic: "bad/+/topic", payload: [1]) }
        let receipt = try client.send(topic: "receipts/qos0", payload: [1], qos: .atMostOnce)
        #expect(receipt.isSettled)
        #expect(receipt.messageID == 0)
        try await receipt.acknowledged()
        await client.disconnect()
    }
}
