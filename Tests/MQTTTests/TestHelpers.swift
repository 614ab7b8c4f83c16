import Foundation
import Logging
import MQTT
import Synchronization
import Testing
import VigilTestSupport

/// Starts a broker, or records a skip-worthy issue when mosquitto is missing.
func startBroker(_ options: MosquittoBroker.Options = .init()) throws -> MosquittoBroker? {
    do {
        return try MosquittoBroker(options: options)
    } catch let error as MosquittoUnavailable {
        print("skipping: \(error)")
        return nil
    }
}

func testLogger(_ label: String = "mqtt-test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["VIGIL_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}

func configuration(
    _ broker: MosquittoBroker, clientID: String = "test-\(UUID().uuidString.prefix(8))",
    version: MQTTProtocolVersion = .v311
) -> MQTTConfiguration {
    MQTTConfiguration(
        host: broker.host, port: broker.port, clientID: clientID, protocolVersion: version,
        keepAlive: .seconds(5),
        reconnectDelay: MQTTReconnectDelay(min: .milliseconds(50), max: .milliseconds(300)),
        connectTimeout: .seconds(5)
    )
}

func connectedClient(_ configuration: MQTTConfiguration) async throws -> MQTTClient {
    let client = try MQTTClient(configuration: configuration, logger: testLogger())
    try await client.connect()
    return client
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body` and fails with `TimedOut` if it takes longer than `seconds`.
func within<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimedOut(what: what) }
        return value
    }
}

/// Collects `count` messages from the stream (within `seconds`).
func collect(_ count: Int, from client: MQTTClient, seconds: Double = 5) async throws -> [MQTTMessage] {
    let stream = client.messages
    return try await within(seconds, "\(count) message(s)") {
        var messages: [MQTTMessage] = []
        for await message in stream {
            messages.append(message)
            if messages.count == count { break }
        }
        return messages
    }
}

/// Waits until `condition` holds (polling every 10 ms), or throws.
func eventually(_ seconds: Double, _ what: String, _ condition: @escaping @Sendable () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Waits for a connection state matching `predicate`.
func waitForState(
    _ client: MQTTClient, seconds: Double = 5, _ what: String,
    _ predicate: @escaping @Sendable (MQTTConnectionState) -> Bool
) async throws {
    let states = client.connectionStates
    try await within(seconds, what) {
        for await state in states where predicate(state) { return }
        throw TimedOut(what: what + " (stream ended)")
    }
}

/// A flag shared between tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
