import Foundation
import MQTT
import Synchronization
import Testing
import VigilTestSupport

@Suite("Connection life: will, acks, reconnects, failures")
struct ConnectionTests {
    @Test("the will is published when the connection dies, not on a clean disconnect")
    func lastWill() async throws {
        guard let broker = try startBroker() else { return }
        let observer = try await connectedClient(configuration(broker))
        try await observer.subscribe("vigil/+/status", qos: .atLeastOnce)

        var dyingConfiguration = configuration(broker, clientID: "agent-1")
        dyingConfiguration.will = MQTTWill(topic: "vigil/agent-1/status", payload: "offline", qos: .atLeastOnce)
        let dying = try await connectedClient(dyingConfiguration)
        dying.abortConnection()
        let will = try await collect(1, from: observer)
        #expect(will.first?.topic == "vigil/agent-1/status")
        #expect(will.first?.payloadString == "offline")
        await dying.disconnect()

        var politeConfiguration = configuration(broker, clientID: "agent-2")
        politeConfiguration.will = MQTTWill(topic: "vigil/agent-2/status", payload: "offline", qos: .atLeastOnce)
        let polite = try await connectedClient(politeConfiguration)
        await polite.disconnect()
        // Anything the broker sent because of that disconnect arrives before this marker.
        try await observer.publish(topic: "vigil/agent-2/status", string: "marker", qos: .atLeastOnce)
        let next = try await collect(1, from: observer)
        #expect(next.first?.payloadString == "marker")
        await observer.disconnect()
    }

    @Test("publish at QoS 1 returns only after the broker's PUBACK")
    func publishWaitsForAck() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        broker.pause()
        // The broker thaws after 300 ms on a thread of its own: a busy machine that delays this test's
        // task cannot keep it frozen past the keepalive. What the client had done by then is noted first.
        let acknowledged = Flag()
        let thawed = Flag()
        final class Count: Sendable { let value = Atomic<Int>(-1) }
        let publishedWhileFrozen = Count()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) {
            publishedWhileFrozen.value.store(acknowledged.isSet ? 1 : client.statistics.published, ordering: .sequentiallyConsistent)
            thawed.set()
            broker.resume()
        }
        try await within(10, "the PUBACK") {
            try await client.publish(topic: "acks/one", string: "x", qos: .atLeastOnce)
            #expect(thawed.isSet, "returned while the broker was frozen")
            acknowledged.set()
        }
        #expect(publishedWhileFrozen.value.load(ordering: .sequentiallyConsistent) == 0)
        #expect(client.statistics.published == 1)
        await client.disconnect()
    }

    @Test("a QoS 1 publish in flight throws connectionLost when the broker dies; later ones throw notConnected")
    func publishFailsWhenConnectionDrops() async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker)
        config.reconnectDelay = MQTTReconnectDelay(min: .seconds(5), max: .seconds(5))
        let client = try await connectedClient(config)
        broker.pause()
        let publishing = Task { try await client.publish(topic: "acks/two", string: "x", qos: .atLeastOnce) }
        try await Task.sleep(for: .milliseconds(200))
        broker.kill()
        let outcome = try await within(5, "the failed publish") { await publishing.result }
        #expect(throws: MQTTError.connectionLost) { try outcome.get() }
        try await waitForState(client, "disconnected") { !$0.isConnected }
        await #expect(throws: MQTTError.notConnected) {
            try await client.publish(topic: "acks/three", string: "x", qos: .atLeastOnce)
        }
        #expect(client.statistics.publishFailures == 1)
        await client.disconnect()
        await #expect(throws: MQTTError.clientClosed) {
            try await client.publish(topic: "acks/four", string: "x", qos: .atMostOnce)
        }
    }

    @Test("after the broker is killed and restarted on the same port, the client reconnects and re-subscribes")
    func reconnectAndResubscribe() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        try await client.subscribe("line/+/speed", qos: .atLeastOnce)
        try await client.subscribe("line/+/torque", qos: .atMostOnce)
        let states = client.connectionStates

        broker.kill()
        try await waitForState(client, "the drop") { !$0.isConnected }
        try broker.restart()
        try await waitForState(client, "the reconnect") { $0.isConnected }

        // The restarted broker has no sessions: messages only arrive if the client subscribed again.
        let publisher = try await connectedClient(configuration(broker))
        let received = Task { try await collect(2, from: client, seconds: 10) }
        let publishing = Task {
            var sequence = 0
            while !Task.isCancelled {
                try await publisher.publish(topic: "line/4/speed", string: "\(sequence)", qos: .atLeastOnce)
                try await publisher.publish(topic: "line/4/torque", string: "\(sequence)", qos: .atLeastOnce)
                sequence += 1
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let messages = try await received.value
        publishing.cancel()
        #expect(Set(messages.map(\.topic)).isSubset(of: ["line/4/speed", "line/4/torque"]))
        let statistics = client.statistics
        #expect(statistics.reconnects == 1)
        #expect(statistics.connectionsLost == 1)
        await publisher.disconnect()
        await client.disconnect()

        var seen: [MQTTConnectionState] = []
        for await state in states { seen.append(state) }
        #expect(seen.first == .connected(sessionPresent: false))
        #expect(seen.last == .closed)
        #expect(seen.contains { if case .disconnected(let reason?) = $0 { !reason.isEmpty } else { false } })
    }

    @Test("connect to a port where nothing listens throws the system's reason")
    func unreachable() async throws {
        let port = try MosquittoBroker.freePort()
        let client = try MQTTClient(
            configuration: MQTTConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(2)),
            logger: testLogger()
        )
        let error = await #expect(throws: MQTTError.self) { try await client.connect() }
        guard case .library(let mosquitto, let context)? = error else {
            Issue.record("expected a library error, got \(String(describing: error))")
            return
        }
        #expect(mosquitto.systemErrno == ECONNREFUSED)
        #expect(context.contains("127.0.0.1:\(port)"))
        #expect("\(error!)".contains("refused"))
        #expect(!client.isConnected)
    }

    @Test("a broker that never answers CONNACK gives connectTimeout")
    func connectTimeout() async throws {
        guard let broker = try startBroker() else { return }
        broker.pause()
        defer { broker.resume() }
        var config = configuration(broker)
        config.connectTimeout = .milliseconds(400)
        let client = try MQTTClient(configuration: config, logger: testLogger())
        await #expect(throws: MQTTError.connectTimeout(host: broker.host, port: broker.port)) {
            try await client.connect()
        }
    }

    @Test("wrong password is refused with the broker's reason; the right one connects", arguments: [MQTTProtocolVersion.v311, .v5])
    func authentication(version: MQTTProtocolVersion) async throws {
        guard MosquittoBroker.isAvailable else { return }
        let directory = try TemporaryDirectory()
        let passwords = try MosquittoBroker.makePasswordFile(users: ["vigil": "s3cret"], in: directory)
        guard let broker = try startBroker(.init(passwordFile: passwords, allowAnonymous: false)) else { return }

        var wrong = configuration(broker, version: version)
        wrong.apply(MQTTCredentials(username: "vigil", password: "guess"))
        let refused = try MQTTClient(configuration: wrong, logger: testLogger())
        let error = await #expect(throws: MQTTError.self) { try await refused.connect() }
        guard case .connectionRefused(let code, let reason)? = error else {
            Issue.record("expected connectionRefused, got \(String(describing: error))")
            return
        }
        #expect(code == (version == .v5 ? 0x87 : 5))
        #expect(reason.lowercased().contains("authori"))

        var right = configuration(broker, version: version)
        right.apply(MQTTCredentials(username: "vigil", password: "s3cret"))
        let client = try await connectedClient(right)
        #expect(client.isConnected)
        await client.disconnect()
    }

    @Test("connect(retryUntilConnected:) waits for a broker that starts later")
    func retryUntilConnected() async throws {
        guard let broker = try startBroker() else { return }
        broker.stop()
        let client = try MQTTClient(configuration: configuration(broker), logger: testLogger())
        let connecting = Task { try await client.connect(retryUntilConnected: true) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!client.isConnected)
        try broker.restart()
        try await within(5, "the late connect") { try await connecting.value }
        #expect(client.isConnected)
        #expect(client.statistics.reconnects == 0)
        await client.disconnect()
    }

    @Test("run() connects, serves until cancelled, then disconnects cleanly")
    func runUntilCancelled() async throws {
        guard let broker = try startBroker() else { return }
        var config = configuration(broker, clientID: "service")
        config.will = MQTTWill(topic: "svc/status", payload: "offline")
        let observer = try await connectedClient(configuration(broker))
        try await observer.subscribe("svc/#", qos: .atLeastOnce)
        let client = try MQTTClient(configuration: config, logger: testLogger())
        let service = Task { try await client.run() }
        try await waitForState(client, "the service's connection") { $0.isConnected }
        try await client.publish(topic: "svc/status", string: "online", qos: .atLeastOnce)
        service.cancel()
        try await within(5, "the service to stop") { try await service.value }
        #expect(client.connectionState == .closed)
        try await observer.publish(topic: "svc/marker", string: "marker", qos: .atLeastOnce)
        let seen = try await collect(2, from: observer)
        #expect(seen.map(\.payloadString) == ["online", "marker"])  // no will: it said goodbye
        await observer.disconnect()
    }

    @Test("disconnect() ends a connect that is still retrying")
    func disconnectWhileRetrying() async throws {
        let port = try MosquittoBroker.freePort()
        let client = try MQTTClient(
            configuration: MQTTConfiguration(
                host: "127.0.0.1", port: port,
                reconnectDelay: MQTTReconnectDelay(min: .milliseconds(50), max: .milliseconds(200))
            ),
            logger: testLogger()
        )
        let connecting = Task { try await client.connect(retryUntilConnected: true) }
        try await Task.sleep(for: .milliseconds(300))
        await client.disconnect()
        let outcome = try await within(5, "the abandoned connect") { await connecting.result }
        #expect(throws: MQTTError.clientClosed) { try outcome.get() }
    }

    @Test("cancelling a retrying connect throws CancellationError and closes the client")
    func cancelRetryingConnect() async throws {
        let port = try MosquittoBroker.freePort()
        let client = try MQTTClient(
            configuration: MQTTConfiguration(
                host: "127.0.0.1", port: port,
                reconnectDelay: MQTTReconnectDelay(min: .milliseconds(50), max: .milliseconds(200))
            ),
            logger: testLogger()
        )
        let connecting = Task { try await client.connect(retryUntilConnected: true) }
        try await Task.sleep(for: .milliseconds(200))
        connecting.cancel()
        let outcome = try await within(5, "the cancelled connect") { await connecting.result }
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(client.connectionState == .closed)
    }

    @Test("a client is used once: connect after disconnect throws clientClosed")
    func singleUse() async throws {
        guard let broker = try startBroker() else { return }
        let client = try await connectedClient(configuration(broker))
        await #expect(throws: MQTTError.alreadyStarted) { try await client.connect() }
        await client.disconnect()
        await client.disconnect()
        await #expect(throws: MQTTError.clientClosed) { try await client.connect() }
        await #expect(throws: MQTTError.clientClosed) { try await client.subscribe("a/b") }
    }
}
