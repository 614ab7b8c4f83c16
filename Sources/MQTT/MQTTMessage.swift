import Foundation

/// A message received from the broker. Topic and payload are copies owned by Swift.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    /// True when the broker sent it from its retained store (it was published before we subscribed).
    public var retain: Bool
    /// Wall-clock time at which libmosquitto's thread handed it over.
    public var receivedAt: Date

    public init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool, receivedAt: Date) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.receivedAt = receivedAt
    }

    /// The payload as UTF-8 text, or nil when it is not valid UTF-8.
    public var payloadString: String? {
        String(validating: payload, as: UTF8.self)
    }
}

/// The client's inbound messages, in arrival order. Single consumer: iterate it from one task.
/// It ends when the client is disconnected with `disconnect()`.
public struct MQTTMessageStream: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    let base: AsyncStream<MQTTMessage>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<MQTTMessage>.AsyncIterator
        public mutating func next() async -> MQTTMessage? { await base.next() }
        public mutating func next(isolation actor: isolated (any Actor)?) async -> MQTTMessage? {
            await base.next(isolation: actor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator())
    }
}

/// Where the client's connection stands.
public enum MQTTConnectionState: Sendable, Equatable, CustomStringConvertible {
    /// Not connected. `reason` says why when there was a connection before;
    /// the client is reconnecting unless it was never started.
    case disconnected(reason: String?)
    /// Connected; `sessionPresent` is the broker's CONNACK flag.
    case connected(sessionPresent: Bool)
    /// `disconnect()` was called; the client is done.
    case closed

    public var isConnected: Bool {
        if case .connected = self { true } else { false }
    }

    public var description: String {
        switch self {
        case .disconnected(let reason?): "disconnected (\(reason))"
        case .disconnected(nil): "disconnected"
        case .connected(let sessionPresent): sessionPresent ? "connected (session present)" : "connected"
        case .closed: "closed"
        }
    }
}

/// What the subscription watchdog reports.
public enum MQTTWatchdogEvent: Sendable, Equatable {
    /// No message matched `filter` for `silence` while connected.
    case silent(filter: String, silence: Duration)
    /// A message matched `filter` again after it had been reported silent.
    case resumed(filter: String)
}

/// A stream of values where each call to the client makes a new subscriber (several tasks
/// may each watch their own). The first element is the value at the time of the call.
public struct MQTTBroadcastStream<Element: Sendable>: AsyncSequence, Sendable {
    let base: AsyncStream<Element>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<Element>.AsyncIterator
        public mutating func next() async -> Element? { await base.next() }
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Element? {
            await base.next(isolation: actor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator())
    }
}

/// Counters of one client since it was made.
public struct MQTTStatistics: Sendable, Equatable {
    /// Messages handed over by the broker (before the buffer).
    public var received: Int
    /// Messages the inbound buffer discarded because the consumer fell behind.
    public var dropped: Int
    /// Messages published: QoS 0 handed to libmosquitto, QoS 1/2 acknowledged by the broker.
    public var published: Int
    /// QoS 1/2 publishes that failed (connection lost before the ack, or rejected).
    public var publishFailures: Int
    /// Successful connections after the first one.
    public var reconnects: Int
    /// Connections that ended other than by `disconnect()`.
    public var connectionsLost: Int
    /// How many times the watchdog reported a subscription silent.
    public var silenceEvents: Int
    /// Subscriptions refused by the broker (including on re-subscribe after a reconnect).
    public var subscriptionRejections: Int
    /// Subscriptions the watchdog reports silent right now.
    public var silentSubscriptions: Int
    /// Inbound messages dropped on arrival by the per-topic rate limit (`perTopicRateLimit`).
    public var rateLimited: Int = 0
    /// Topics whose messages the rate limit has dropped, at most 100, busiest first.
    public var rateLimitedTopics: [String: Int] = [:]
}
