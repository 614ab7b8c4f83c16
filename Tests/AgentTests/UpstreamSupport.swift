import Agent
import Foundation
import Logging
import MQTT
import Outbox
import Synchronization
import Testing
import VigilTestSupport

/// One upstream event as a subscriber on the upstream broker received it.
struct UpstreamArrival: Sendable, Equatable {
    var sequence: UInt64
    var key: String
    var historical: Bool
    var severityHint: Int?
}

/// A QoS 1 subscriber on the upstream broker with a persistent session (clean session false, a
/// fixed client id), so what is published while it reconnects waits for it at the broker.
final class UpstreamSubscriber: Sendable {
    let client: MQTTClient
    private let arrivals = Mutex<[UpstreamArrival]>([])
    private let malformed = Mutex(0)
    private let consumer: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(broker: MosquittoBroker, topic: String, logger: Logger) async throws {
        let configuration = MQTTConfiguration(
            host: broker.host, port: broker.port, clientID: "upstream-subscriber-\(UUID().uuidString.prefix(8))",
            cleanSession: false,
            reconnectDelay: MQTTReconnectDelay(min: .milliseconds(20), max: .milliseconds(200)),
            inboundBufferCapacity: 1_000_000)
        client = try MQTTClient(configuration: configuration, logger: logger)
        try await client.connect()
        try await client.subscribe(topic, qos: .atLeastOnce)
        let messages = client.messages
        let task = Task { [self] in
            for await message in messages {
                if let arrival = Self.decode(message.payload) {
                    self.arrivals.withLock { $0.append(arrival) }
                } else {
                    self.malformed.withLock { $0 += 1 }
                }
            }
        }
        consumer.withLock { $0 = task }
    }

    /// Upstream events received so far, in arrival order, duplicates included.
    var received: [UpstreamArrival] { arrivals.withLock { $0 } }
    var malformedCount: Int { malformed.withLock { $0 } }

    /// Distinct sequence numbers received so far.
    var distinctSequences: Set<UInt64> { Set(received.map(\.sequence)) }

    func close() async {
        await client.disconnect()
        consumer.withLock { $0 }?.cancel()
    }

    /// The delivery fields the outbox spliced into the JSON body.
    static func decode(_ payload: [UInt8]) -> UpstreamArrival? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
              let sequence = (object["sequence"] as? NSNumber)?.uint64Value,
              let key = object["idempotency_key"] as? String,
              let historical = object["historical"] as? Bool
        else { return nil }
        return UpstreamArrival(sequence: sequence, key: key, historical: historical,
                               severityHint: (object["severity"] as? NSNumber)?.intValue)
    }
}

/// The agent's upstream side in process: an outbox draining through `MQTTOutboxTransport` and an
/// `MQTTClient` to the upstream broker, link states fed from the client as `OutboxService` does.
final class UpstreamLink: Sendable {
    let outbox: Outbox
    let client: MQTTClient
    private let tasks: [Task<Void, Never>]

    init(outbox: Outbox, broker: MosquittoBroker, logger: Logger) throws {
        let client = try MQTTClient(
            configuration: MQTTConfiguration(
                host: broker.host, port: broker.port, clientID: "upstream-agent-\(UUID().uuidString.prefix(8))",
                keepAlive: .seconds(5),
                reconnectDelay: MQTTReconnectDelay(min: .milliseconds(20), max: .milliseconds(250))),
            logger: logger)
        self.outbox = outbox
        self.client = client
        let states = client.connectionStates
        let (links, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let forwarder = Task {
            for await state in states {
                continuation.yield(state.isConnected)
                if state == .closed { break }
            }
            continuation.finish()
        }
        let connector = Task { _ = try? await client.connect(retryUntilConnected: true) }
        let drainer = Task { await outbox.run(transport: MQTTOutboxTransport(client: client), linkStates: links) }
        tasks = [forwarder, connector, drainer]
    }

    /// Stops draining, disconnects and closes the outbox.
    func stop() async {
        tasks[2].cancel()
        await tasks[2].value
        tasks[1].cancel()
        await client.disconnect()
        tasks[0].cancel()
        await outbox.close()
    }
}

enum Upstream {
    static var logger: Logger {
        var logger = Logger(label: "test.upstream")
        logger.logLevel = .critical
        return logger
    }

    /// Waits until `condition` holds; records an issue and returns false after `timeout`.
    @discardableResult
    static func eventually(
        _ what: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () async -> Bool
    ) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for: \(what)", sourceLocation: sourceLocation)
        return false
    }

    /// A broker for upstream fault tests: persistent sessions survive `stop()`/`restart()`, and
    /// no cap on QoS 1 messages in flight to a subscriber (so a kill -9 loses as little as possible
    /// of what the broker already acknowledged to the publisher, which no sender can make up for),
    /// and the broker's store saved after every change, so a message it acknowledged and had not yet
    /// passed on survives its own kill -9 (mosquitto's default saves every 30 minutes: a subscriber
    /// lagging behind on a busy machine then lost the broker's queue with the kill).
    static func broker() throws -> MosquittoBroker {
        try MosquittoBroker(options: .init(persistence: true, extraConfiguration: [
            "max_inflight_messages 0", "autosave_on_changes true", "autosave_interval 1",
        ]))
    }

    /// Enqueues `count` events from `producers` concurrent tasks; returns the stored sequences sorted.
    static func enqueue(
        _ outbox: Outbox, count: Int, producers: Int = 8, topic: String, keyPrefix: String
    ) async throws -> [UInt64] {
        try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var stored: [UInt64] = []
                    var n = producer
                    while n < count {
                        let body = Array("{\"severity\":\(n % 3),\"n\":\(n)}".utf8)
                        let result = try await outbox.enqueue(topic: topic, payload: body, severity: n % 3, key: "\(keyPrefix)-\(n)")
                        if let sequence = result.sequence { stored.append(sequence) }
                        n += producers
                    }
                    return stored
                }
            }
            var all: [UInt64] = []
            for try await part in group { all += part }
            return all.sorted()
        }
    }

    /// Checks what a subscriber received against what was stored: every stored sequence arrived,
    /// nothing else did, a repeated sequence repeats its key, and first arrivals are in sequence
    /// order. Returns the number of duplicates.
    @discardableResult
    static func checkDelivery(
        stored: [UInt64], received: [UpstreamArrival], ordered: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        var keys: [UInt64: String] = [:]
        var firstArrivals: [UInt64] = []
        var duplicates = 0
        for arrival in received {
            if let key = keys[arrival.sequence] {
                duplicates += 1
                #expect(key == arrival.key, "sequence \(arrival.sequence) arrived again with another key",
                        sourceLocation: sourceLocation)
            } else {
                keys[arrival.sequence] = arrival.key
                firstArrivals.append(arrival.sequence)
            }
        }
        let missing = Set(stored).subtracting(keys.keys)
        let unexpected = Set(keys.keys).subtracting(stored)
        #expect(missing.isEmpty, "\(missing.count) stored events never arrived, e.g. \(missing.sorted().prefix(5))",
                sourceLocation: sourceLocation)
        #expect(unexpected.isEmpty, "\(unexpected.count) unexpected sequences arrived", sourceLocation: sourceLocation)
        if ordered {
            #expect(firstArrivals == firstArrivals.sorted(), "first arrivals are out of sequence order",
                    sourceLocation: sourceLocation)
        }
        return duplicates
    }
}
