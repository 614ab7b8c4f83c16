import Logging

/// An MQTT 3.1.1 / 5 client over libmosquitto, for Swift concurrency.
///
/// ```swift
/// let client = try MQTTClient(configuration: .init(host: "127.0.0.1", port: 1883, clientID: "vigil-1"), logger: logger)
/// try await client.subscribe("plant/+/temperature", qos: .atLeastOnce)
/// try await client.connect()
/// Task { for await message in client.messages { ... } }
/// try await client.publish(topic: "vigil/alerts", payload: bytes, qos: .atLeastOnce)   // returns after PUBACK
/// await client.disconnect()
/// ```
///
/// - `connect()` makes the first connection and throws if it fails (unless asked to retry);
///   after that the client reconnects by itself with jittered exponential backoff
///   (`MQTTConfiguration.reconnectDelay`) and subscribes again to every filter when the
///   broker has no session for it.
/// - A client is used once: after `disconnect()` it is closed; make a new one to connect again.
/// - Every libmosquitto callback runs on the client's own thread; nothing blocks the
///   cooperative thread pool except short critical sections.
public final class MQTTClient: Sendable {
    public let configuration: MQTTConfiguration
    private let connection: MosquittoConnection

    /// Checks the configuration and sets up libmosquitto (protocol version, credentials,
    /// will, TLS files). Nothing touches the network until `connect()`.
    public init(configuration: MQTTConfiguration, logger: Logger = Logger(label: "vigil.mqtt")) throws(MQTTError) {
        try configuration.validate()
        self.configuration = configuration
        self.connection = try MosquittoConnection(configuration: configuration, logger: logger)
    }

    deinit {
        // The loop thread keeps the connection alive until it has sent DISCONNECT.
        connection.requestStop()
    }

    // MARK: Connection

    /// Connects to the broker and starts the network thread.
    ///
    /// Returns when the broker accepted the connection (CONNACK success). With
    /// `retryUntilConnected` false (the default) the first failure is thrown: unreachable
    /// broker (`MQTTError.library`, with the system's reason), TLS failure (with OpenSSL's
    /// reason), refusal (`MQTTError.connectionRefused`, with the CONNACK text) or
    /// `MQTTError.connectTimeout`; the client can then be connected again. With
    /// `retryUntilConnected` true it keeps trying with backoff until it succeeds or the
    /// task is cancelled (then the client is closed and `CancellationError` is thrown).
    public func connect(retryUntilConnected: Bool = false) async throws {
        let connection = self.connection
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    connection.start(retry: retryUntilConnected, continuation: continuation)
                }
            } onCancel: {
                connection.requestStop()
            }
        } catch MQTTError.clientClosed where Task.isCancelled {
            throw CancellationError()
        }
        if Task.isCancelled && !connection.shared.withLock({ $0.connected }) {
            throw CancellationError()
        }
    }

    /// Connects (retrying until the broker is there), then runs until the task is cancelled,
    /// and disconnects. The shape of a swift-service-lifecycle `Service.run()`: wrap it with
    /// `cancelOnGracefulShutdown()` in the service.
    public func run() async throws {
        try await connect(retryUntilConnected: true)
        let connection = self.connection
        await withTaskCancellationHandler {
            await connection.waitUntilStopped()
        } onCancel: {
            connection.requestStop()
        }
        await connection.waitUntilStopped()
    }

    /// Sends DISCONNECT (the broker does not publish the will), stops the network thread and
    /// closes the client: pending publishes throw `MQTTError.clientClosed`, `messages` and the
    /// state streams end.
    public func disconnect() async {
        connection.requestStop()
        await connection.waitUntilStopped()
    }

    /// Closes the network connection without DISCONNECT, as a crash or a cut cable would:
    /// the broker publishes the will, and the client reconnects as after any other drop.
    /// For fault drills and tests.
    public func abortConnection() {
        connection.requestAbort()
    }

    /// Whether the client has a connection accepted by the broker right now.
    public var isConnected: Bool {
        connection.shared.withLock { $0.connected }
    }

    /// The latest connection state.
    public var connectionState: MQTTConnectionState {
        connection.shared.withLock { state in
            if state.phase == .closed { return .closed }
            if state.connected { return .connected(sessionPresent: state.sessionPresent) }
            return .disconnected(reason: state.lastDisconnectReason)
        }
    }

    /// Connection state changes. Each access makes a new stream for one consumer; it starts
    /// with the current state and ends after `.closed`. The outbox drains on `.connected`.
    public var connectionStates: MQTTBroadcastStream<MQTTConnectionState> {
        MQTTBroadcastStream(base: connection.connectionStates.makeStream())
    }

    // MARK: Subscriptions

    /// Subscribes to `filter` (wildcards allowed) and remembers it for reconnects.
    ///
    /// When connected, returns after the broker's SUBACK and throws
    /// `MQTTError.subscriptionRejected` if the broker refused. When not connected (before
    /// `connect()` or while reconnecting) it returns at once and the filter is sent on the
    /// next connect. Subscribing again to the same filter updates its QoS and timeout.
    /// - Parameter silenceTimeout: report the subscription silent (see `watchdogEvents`) when
    ///   no message matches it for this long while connected. Defaults to
    ///   `configuration.subscriptionSilenceTimeout`.
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce, silenceTimeout: Duration? = nil) async throws {
        try await subscribe([filter], qos: qos, silenceTimeout: silenceTimeout)
    }

    /// Subscribes to all of `filters` at once, in SUBSCRIBE packets of up to 500 filters sent back
    /// to back (a large catalog subscribes in a few round trips, not one per topic), and returns
    /// after every SUBACK. A filter the broker refuses is forgotten and the call throws
    /// `MQTTError.subscriptionRejected` for the first of them; the others stay subscribed.
    /// Otherwise as `subscribe(_:qos:silenceTimeout:)`.
    public func subscribe(_ filters: [String], qos: MQTTQoS = .atLeastOnce, silenceTimeout: Duration? = nil) async throws {
        let topicFilters = try filters.map { try MQTTTopicFilter($0) }
        guard !topicFilters.isEmpty else { return }
        let timeout = silenceTimeout ?? configuration.subscriptionSilenceTimeout
        if let timeout, timeout <= .zero { throw MQTTError.invalidConfiguration("silenceTimeout must be positive") }
        let connection = self.connection
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.subscribe(topicFilters, qos: qos, silenceTimeout: timeout, continuation: continuation)
        }
        connection.refreshWatchedFlag()
    }

    /// Removes a subscription (and forgets it for reconnects). Returns after UNSUBACK when connected.
    public func unsubscribe(_ filter: String) async throws {
        _ = try MQTTTopicFilter(filter)
        let connection = self.connection
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.unsubscribe(filter, continuation: continuation)
        }
        connection.refreshWatchedFlag()
    }

    /// Inbound messages of all subscriptions, in arrival order, through a buffer of
    /// `configuration.inboundBufferCapacity` messages (what overflows is counted in
    /// `statistics.dropped`). One consumer; it ends after `disconnect()`.
    public var messages: MQTTMessageStream {
        MQTTMessageStream(base: connection.inboundStream)
    }

    /// Hands the messages whose topic starts with `prefix` to `handler` as they arrive, on the
    /// network thread, instead of to `messages`, until `untap(prefix:)`. For a short-lived look at
    /// retained state that must not wait behind a busy consumer of `messages`; `handler` must be quick.
    public func tap(prefix: String, _ handler: @escaping @Sendable (MQTTMessage) -> Void) {
        connection.taps.withLock { taps in
            taps.removeAll { $0.prefix == prefix }
            taps.append((prefix, handler))
            connection.hasTaps.store(true, ordering: .relaxed)
        }
    }

    /// Ends `tap(prefix:_:)`: those messages go to `messages` again.
    public func untap(prefix: String) {
        connection.taps.withLock { taps in
            taps.removeAll { $0.prefix == prefix }
            connection.hasTaps.store(!taps.isEmpty, ordering: .relaxed)
        }
    }

    /// Filters that the watchdog currently reports silent.
    public var silentSubscriptions: [String] {
        connection.shared.withLock { state in
            state.subscriptions.values.filter(\.silent).sorted { $0.order < $1.order }.map(\.filter.filter)
        }
    }

    /// Watchdog reports: a subscription went silent, or came back. Each access makes a new stream.
    public var watchdogEvents: MQTTBroadcastStream<MQTTWatchdogEvent> {
        MQTTBroadcastStream(base: connection.watchdogEvents.makeStream())
    }

    // MARK: Publishing

    /// Publishes a message.
    ///
    /// - QoS 0 returns once libmosquitto has queued the message.
    /// - QoS 1/2 returns only when the broker acknowledged it (PUBACK / PUBCOMP, matched by
    ///   message id). If the connection drops first it throws `MQTTError.connectionLost`: the
    ///   broker may or may not have it, so a store-and-forward caller keeps it and sends it
    ///   again (at least once). A dead broker is noticed by the keep-alive (1.5 × keepAlive).
    /// - When not connected (never connected, or reconnecting) it throws
    ///   `MQTTError.notConnected` at once rather than queueing: callers decide what to keep.
    /// - After `disconnect()`: `MQTTError.clientClosed`.
    ///
    /// To keep several QoS 1/2 messages in flight, use `send(topic:payload:qos:retain:)` and await
    /// the receipts.
    public func publish(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false) async throws {
        try Task.checkCancellation()
        let receipt = try send(topic: topic, payload: payload, qos: qos, retain: retain)
        guard let acknowledgement = receipt.acknowledgement else { return }
        // Not cancellable, as before: a caller that gave up could not tell whether the broker has it.
        try await acknowledgement.wait(cancellable: false)
    }

    /// Hands a message to the network thread and returns without waiting for the broker:
    /// the receipt's `acknowledged()` waits for the PUBACK / PUBCOMP (QoS 1/2). Messages sent
    /// one after another from one task go on the wire in that order; up to
    /// `configuration.maxInflightMessages` are unacknowledged at once (libmosquitto holds the
    /// rest back, in order). Throws at once, like `publish`, when the topic or payload is invalid
    /// (`invalidConfiguration` / `invalidTopic`), when not connected (`notConnected`) or after
    /// `disconnect()` (`clientClosed`). The receipt fails with `connectionLost` when the connection
    /// drops before the acknowledgement.
    @discardableResult
    public func send(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) throws -> MQTTPublishReceipt {
        try MQTTTopicName.validate(topic)
        guard payload.count <= 268_435_455 else {
            throw MQTTError.invalidConfiguration("payload of \(payload.count) bytes exceeds MQTT's limit of 256 MiB")
        }
        return try connection.publish(topic: topic, payload: payload, qos: qos, retain: retain)
    }

    /// Publishes UTF-8 text.
    public func publish(topic: String, string: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false) async throws {
        try await publish(topic: topic, payload: Array(string.utf8), qos: qos, retain: retain)
    }

    // MARK: Statistics

    /// Counters since the client was made.
    public var statistics: MQTTStatistics {
        let silent = connection.shared.withLock { state in state.subscriptions.values.count(where: \.silent) }
        return connection.counters.snapshot(silentSubscriptions: silent)
    }
}
