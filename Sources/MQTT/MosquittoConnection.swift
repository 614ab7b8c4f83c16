import CMosquitto
import Foundation
import Logging
import Synchronization
import VigilSupport

/// `mosquitto_lib_init` is not thread safe; a static let runs it exactly once per process.
enum MosquittoLibrary {
    static let initialized: Int32 = mosquitto_lib_init()
}

/// Owns one `struct mosquitto *` and the thread that runs its network loop.
///
/// Threading: one dedicated thread (started by `start`) calls `mosquitto_connect`,
/// `mosquitto_reconnect` and `mosquitto_loop`; every libmosquitto callback runs on it.
/// Callers publish and subscribe from any thread: `mosquitto_threaded_set(true)` makes
/// libmosquitto queue their packets and wake the loop. Shared state lives in `shared` (a lock),
/// counters are atomics, and `loop` is touched only on the loop thread.
/// The loop thread holds a strong reference to this object while it runs, so the
/// `Unmanaged` user pointer given to libmosquitto is valid in every callback.
final class MosquittoConnection: @unchecked Sendable {
    let handle: OpaquePointer
    let configuration: MQTTConfiguration
    let logger: Logger
    let shared = Locked(SharedState())
    let counters = Counters()
    let inboundStream: AsyncStream<MQTTMessage>
    let inbound: AsyncStream<MQTTMessage>.Continuation
    let connectionStates = Broadcast<MQTTConnectionState>(initial: .disconnected(reason: nil))
    let watchdogEvents = Broadcast<MQTTWatchdogEvent>(initial: nil, bufferSize: 256)
    /// True while at least one subscription has a silence timeout (spares the lock per message).
    let hasWatchedSubscriptions = Atomic<Bool>(false)
    /// Messages whose topic starts with a tapped prefix go to the tap on the loop thread, not to
    /// `inbound` (`MQTTClient.tap(prefix:_:)`); `hasTaps` spares the lock per message.
    let taps = Locked<[(prefix: String, handler: @Sendable (MQTTMessage) -> Void)]>([])
    let hasTaps = Atomic<Bool>(false)
    /// libmosquitto's last error/warning log line (OpenSSL's reasons arrive this way). Its own
    /// lock: libmosquitto may log from inside calls made while `shared` is held.
    private let lastLibraryLog = Locked<String?>(nil)
    private let wakeup = Wakeup()
    private let lowWaterMark: Int
    /// `stopFlag` mirrors `SharedState.stopRequested`; both are read by the loop on every packet without the lock.
    private let stopFlag = Atomic<Bool>(false)
    private let abortFlag = Atomic<Bool>(false)
    /// Loop-thread-only state.
    private var loop = LoopState()

    struct SharedState {
        enum Phase { case idle, starting, running, stopping, closed }
        var phase: Phase = .idle
        var connected = false
        var sessionPresent = false
        var lastDisconnectReason: String?
        var stopRequested = false
        var firstConnect: CheckedContinuation<Void, any Error>?
        var retryFirstConnect = false
        var pendingPublishes: [Int32: PublishAcknowledgement] = [:]
        var pendingSubscribes: [Int32: PendingSubscribe] = [:]
        var pendingUnsubscribes: [Int32: CheckedContinuation<Void, any Error>] = [:]
        /// By filter. Change it only through `setSubscription` and `removeSubscription`, which keep
        /// the watchdog's indexes below in step.
        var subscriptions: [String: Subscription] = [:]
        var nextSubscriptionOrder = 0
        /// Subscriptions with a silence timeout, and those of them with wildcards: a message's
        /// topic finds a concrete filter by a dictionary lookup, and only wildcard filters are
        /// matched one by one (a catalog of 100k concrete topics costs one lookup per message).
        var watchedCount = 0
        var watchedWildcards: Set<String> = []
        /// No watched subscription can fall silent before this instant (nil: none can until a
        /// message resumes one or a subscription is added), so the periodic check skips its scan.
        var earliestSilence: ContinuousClock.Instant?
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
        /// The broker's last refusal (CONNACK), for the error of a failed first connect.
        var lastRefusal: MQTTError?
    }

    // The subscription bookkeeping (see `SharedState.subscriptions`).

    /// One SUBSCRIBE packet waiting for its SUBACK: its filters, and the call that waits for it
    /// (nil for the re-subscribe after a reconnect).
    struct PendingSubscribe {
        let filters: [String]
        let waiter: SubscribeWaiter?
    }

    /// The most filters one SUBSCRIBE packet carries: a catalog of 100k topics is subscribed in
    /// 200 packets sent back to back instead of 100k round trips.
    static let filtersPerSubscribe = 500

    /// Sends one SUBSCRIBE packet for `filters`; the library's return code and the packet's id.
    static func sendSubscribe(_ handle: OpaquePointer, _ filters: ArraySlice<String>, qos: MQTTQoS) -> (rc: Int32, mid: Int32) {
        let copies = filters.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var mid: Int32 = 0
        let rc = copies.withUnsafeBufferPointer {
            mosquitto_subscribe_multiple(handle, &mid, Int32(copies.count), $0.baseAddress, Int32(qos.rawValue), 0, nil)
        }
        return (rc, mid)
    }

    struct Subscription {
        let filter: MQTTTopicFilter
        var qos: MQTTQoS
        var silenceTimeout: Duration?
        var lastActivity: ContinuousClock.Instant
        var silent: Bool
        let order: Int
    }

    struct LoopState {
        var everConnected = false
        var justConnected = false
        /// CONNACK accepted and no loss seen since (the loop thread's own view of `connected`).
        var sessionUp = false
        /// The consumer is behind (under a quarter of the inbound buffer free): stop bursting and
        /// read one packet per select() again, which leaves the consumer more time to catch up.
        var inboundNearlyFull = false
        var firstConnectError: MQTTError?
        var logHookInstalled = false
        /// errno as libmosquitto left it when it reported the connection closed.
        var lastDisconnectErrno: Int32 = 0
        /// The per-topic rate limit's buckets (`MQTTConfiguration.perTopicRateLimit`).
        var buckets: [String: TopicBucket] = [:]
    }

    /// A token bucket: `tokens` at `refilled`; a message takes one.
    struct TopicBucket {
        var tokens: Double
        var refilled: ContinuousClock.Instant
        /// Drops since the last log line about this topic, and when that line was written.
        var dropsSinceLog = 0
        var loggedAt: ContinuousClock.Instant?
    }

    final class Counters: Sendable {
        let received = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        let published = Atomic<Int>(0)
        let publishFailures = Atomic<Int>(0)
        let reconnects = Atomic<Int>(0)
        let connectionsLost = Atomic<Int>(0)
        let silenceEvents = Atomic<Int>(0)
        let subscriptionRejections = Atomic<Int>(0)
        let rateLimited = Atomic<Int>(0)
        /// Per-topic drop counts of the rate limit (a few topics; updated on the loop thread).
        let rateLimitedTopics = Locked<[String: Int]>([:])

        func snapshot(silentSubscriptions: Int) -> MQTTStatistics {
            MQTTStatistics(
                received: received.load(ordering: .relaxed),
                dropped: dropped.load(ordering: .relaxed),
                published: published.load(ordering: .relaxed),
                publishFailures: publishFailures.load(ordering: .relaxed),
                reconnects: reconnects.load(ordering: .relaxed),
                connectionsLost: connectionsLost.load(ordering: .relaxed),
                silenceEvents: silenceEvents.load(ordering: .relaxed),
                subscriptionRejections: subscriptionRejections.load(ordering: .relaxed),
                silentSubscriptions: silentSubscriptions,
                rateLimited: rateLimited.load(ordering: .relaxed),
                rateLimitedTopics: rateLimitedTopics.withLock { $0 }
            )
        }
    }

    // MARK: - Setup

    init(configuration: MQTTConfiguration, logger: Logger) throws(MQTTError) {
        _ = MosquittoLibrary.initialized
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, nil) else {
            throw .library(MosquittoError(code: Int32(MOSQ_ERR_NOMEM.rawValue)), context: "mosquitto_new")
        }
        self.handle = handle
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "mqtt.broker"] = "\(configuration.host):\(configuration.port)"
        if let clientID = configuration.clientID { logger[metadataKey: "mqtt.client"] = "\(clientID)" }
        self.logger = logger
        lowWaterMark = configuration.inboundBufferCapacity / 4
        let policy: AsyncStream<MQTTMessage>.Continuation.BufferingPolicy =
            switch configuration.inboundOverflowPolicy {
            case .dropOldest: .bufferingNewest(configuration.inboundBufferCapacity)
            case .dropNewest: .bufferingOldest(configuration.inboundBufferCapacity)
            }
        (inboundStream, inbound) = AsyncStream.makeStream(of: MQTTMessage.self, bufferingPolicy: policy)

        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        try configureLibrary()
        installCallbacks()
    }

    deinit {
        mosquitto_destroy(handle)
        inbound.finish()
        connectionStates.finish()
        watchdogEvents.finish()
    }

    private func configureLibrary() throws(MQTTError) {
        let c = configuration
        try MosquittoError.check(mosquitto_threaded_set(handle, true), "mosquitto_threaded_set")
        let version = c.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try MosquittoError.check(
            mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version)), "setting the protocol version"
        )
        try MosquittoError.check(
            mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(c.maxInflightMessages)), "maxInflightMessages"
        )
        try MosquittoError.check(
            mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, c.lowLatencySocket ? 1 : 0), "setting TCP_NODELAY"
        )
        if let username = c.username {
            try MosquittoError.check(mosquitto_username_pw_set(handle, username, c.password), "username/password")
        }
        if let will = c.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes.baseAddress, will.qos.rawValue, will.retain)
            }
            try MosquittoError.check(rc, "setting the last will on '\(will.topic)'")
        }
        if let tls = c.tls { try configureTLS(tls) }
    }

    private func configureTLS(_ tls: MQTTTLSConfiguration) throws(MQTTError) {
        for (name, path) in [("tls.caFile", tls.caFile), ("tls.certificateFile", tls.certificateFile), ("tls.keyFile", tls.keyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw .invalidConfiguration("\(name) '\(path)' does not exist or cannot be read")
            }
        }
        if tls.caFile == nil && tls.certificateFile == nil {
            try MosquittoError.check(
                mosquitto_int_option(handle, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "using the system's CA certificates"
            )
        } else {
            let caPath: String? = tls.caFile == nil ? "/etc/ssl/certs" : nil
            try MosquittoError.check(
                mosquitto_tls_set(handle, tls.caFile, caPath, tls.certificateFile, tls.keyFile, nil),
                "loading the TLS certificates (caFile \(tls.caFile ?? "system"), certificateFile \(tls.certificateFile ?? "none"))"
            )
        }
        if tls.insecure {
            try MosquittoError.check(mosquitto_tls_insecure_set(handle, true), "tls.insecure")
            // cert_reqs 0 = SSL_VERIFY_NONE: the broker's certificate is not checked at all.
            try MosquittoError.check(mosquitto_tls_opts_set(handle, 0, tls.tlsVersion, nil), "tls.insecure")
        } else if let version = tls.tlsVersion {
            try MosquittoError.check(mosquitto_tls_opts_set(handle, 1, version, nil), "tls.tlsVersion '\(version)'")
        }
    }

    // MARK: - Callbacks (non-capturing; they recover `self` from the user pointer)

    private static func from(_ user: UnsafeMutableRawPointer?) -> MosquittoConnection? {
        guard let user else { return nil }
        return Unmanaged<MosquittoConnection>.fromOpaque(user).takeUnretainedValue()
    }

    private func installCallbacks() {
        mosquitto_connect_v5_callback_set(handle) { _, user, rc, flags, _ in
            MosquittoConnection.from(user)?.didConnect(code: rc, flags: flags)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, user, rc, _ in
            MosquittoConnection.from(user)?.didDisconnect(code: rc)
        }
        mosquitto_publish_v5_callback_set(handle) { _, user, mid, reason, _ in
            MosquittoConnection.from(user)?.didPublish(mid: mid, reasonCode: reason)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, user, mid, count, granted, _ in
            let codes = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(max(count, 0)))) } ?? []
            MosquittoConnection.from(user)?.didSubscribe(mid: mid, granted: codes)
        }
        mosquitto_unsubscribe_v5_callback_set(handle) { _, user, mid, _ in
            MosquittoConnection.from(user)?.didUnsubscribe(mid: mid)
        }
        mosquitto_message_v5_callback_set(handle) { _, user, message, _ in
            guard let message else { return }
            MosquittoConnection.from(user)?.didReceive(message)
        }
    }

    /// libmosquitto logs through a callback; it is installed only while connecting, because
    /// the library formats a line for every packet when a callback is present.
    private func setLogHook(_ on: Bool) {
        guard on != loop.logHookInstalled else { return }
        loop.logHookInstalled = on
        if on {
            mosquitto_log_callback_set(handle) { _, user, level, text in
                guard let text else { return }
                MosquittoConnection.from(user)?.didLog(level: level, text: String(cString: text))
            }
        } else {
            mosquitto_log_callback_set(handle, nil)
        }
    }

    private func didLog(level: Int32, text: String) {
        if level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING) != 0 {
            lastLibraryLog.withLock { $0 = text }
            logger.debug("libmosquitto: \(text)")
        } else {
            logger.trace("libmosquitto: \(text)")
        }
    }

    private func didConnect(code: Int32, flags: Int32) {
        guard code == 0 else {
            let refusal = MQTTError.connectionRefused(
                reasonCode: code, reason: ConnackText.text(code: code, version: configuration.protocolVersion)
            )
            shared.withLock { $0.lastRefusal = refusal }
            logger.error("MQTT connection refused", metadata: ["error": "\(refusal)"])
            return
        }
        let sessionPresent = flags & 1 != 0
        let now = ContinuousClock.now
        let first: CheckedContinuation<Void, any Error>? = shared.withLock { state in
            state.connected = true
            state.sessionPresent = sessionPresent
            state.lastRefusal = nil
            let first = state.firstConnect
            state.firstConnect = nil
            if state.phase == .starting { state.phase = .running }
            state.restartSilenceClocks(at: now)
            if !sessionPresent {
                // A new session has no subscriptions: send them all again, in the order they were made.
                // Runs of one QoS, in packets of up to `filtersPerSubscribe` filters.
                let ordered = state.subscriptions.values.sorted { $0.order < $1.order }
                var start = 0
                while start < ordered.count {
                    let qos = ordered[start].qos
                    var end = start + 1
                    while end < ordered.count && end - start < Self.filtersPerSubscribe && ordered[end].qos == qos { end += 1 }
                    let filters = ordered[start..<end].map(\.filter.filter)
                    let (rc, mid) = Self.sendSubscribe(handle, filters[...], qos: qos)
                    if rc == MosquittoError.success {
                        state.pendingSubscribes[mid] = PendingSubscribe(filters: filters, waiter: nil)
                    } else {
                        logger.error(
                            "MQTT re-subscribe failed",
                            metadata: ["filters": "\(filters.count)", "first": "\(filters[0])", "error": "\(MosquittoError(code: rc))"]
                        )
                    }
                    start = end
                }
            }
            return first
        }
        loop.justConnected = true
        loop.sessionUp = true
        if loop.everConnected {
            counters.reconnects.wrappingAdd(1, ordering: .relaxed)
            logger.info("MQTT reconnected", metadata: ["sessionPresent": "\(sessionPresent)"])
        } else {
            logger.info("MQTT connected", metadata: ["sessionPresent": "\(sessionPresent)"])
        }
        loop.everConnected = true
        connectionStates.yield(.connected(sessionPresent: sessionPresent))
        first?.resume()
    }

    private func didDisconnect(code: Int32) {
        loop.lastDisconnectErrno = errno
        let reason = code == 0 ? "disconnected by the client" : MosquittoError(code: code).description
        markDisconnected(reason: reason)
    }

    private func didPublish(mid: Int32, reasonCode: Int32) {
        // QoS 0 messages and retransmissions after a reconnect have no waiter.
        guard let acknowledgement = shared.withLock({ $0.pendingPublishes.removeValue(forKey: mid) }) else { return }
        if reasonCode >= 0x80 {
            counters.publishFailures.wrappingAdd(1, ordering: .relaxed)
            let text = mosquitto_reason_string(reasonCode).map { String(cString: $0) } ?? "reason code \(reasonCode)"
            acknowledgement.settle(.failure(.publishRejected(reasonCode: reasonCode, reason: text)))
        } else {
            counters.published.wrappingAdd(1, ordering: .relaxed)
            acknowledgement.settle(.success(()))
        }
    }

    /// A SUBACK: one reason code per filter of the packet (a missing code counts as a refusal).
    private func didSubscribe(mid: Int32, granted: [Int32]) {
        let (pending, rejected, done): (PendingSubscribe?, [(String, Int32)], SubscribeWaiter.Done?) = shared.withLock { state in
            guard let pending = state.pendingSubscribes.removeValue(forKey: mid) else { return (nil, [], nil) }
            var rejected: [(String, Int32)] = []
            for (index, filter) in pending.filters.enumerated() {
                let code = index < granted.count ? granted[index] : 0x80
                if code >= 0x80 {
                    state.removeSubscription(filter)
                    rejected.append((filter, code))
                }
            }
            let error = rejected.first.map { MQTTError.subscriptionRejected(filter: $0.0, reasonCode: $0.1) }
            return (pending, rejected, pending.waiter?.settle(packets: 1, error: error))
        }
        guard let pending else { return }
        if !rejected.isEmpty {
            counters.subscriptionRejections.wrappingAdd(rejected.count, ordering: .relaxed)
            refreshWatchedFlag()
            for (filter, code) in rejected.prefix(10) {
                logger.error("MQTT subscription rejected", metadata: ["filter": "\(filter)", "code": "\(code)"])
            }
            if rejected.count > 10 {
                logger.error("MQTT subscriptions rejected", metadata: ["more": "\(rejected.count - 10)"])
            }
        } else {
            logger.debug("MQTT subscribed", metadata: ["filters": "\(pending.filters.count)", "first": "\(pending.filters.first ?? "")"])
        }
        done?.resume()
    }

    private func didUnsubscribe(mid: Int32) {
        shared.withLock { $0.pendingUnsubscribes.removeValue(forKey: mid) }?.resume()
    }

    /// Runs on the loop thread while libmosquitto still owns `message`: copy everything out.
    private func didReceive(_ message: UnsafePointer<mosquitto_message>) {
        let raw = message.pointee
        guard let topicPointer = raw.topic else { return }
        let topic = String(cString: topicPointer)
        let payload: [UInt8]
        if let bytes = raw.payload, raw.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
        } else {
            payload = []
        }
        counters.received.wrappingAdd(1, ordering: .relaxed)
        if hasWatchedSubscriptions.load(ordering: .relaxed) { noteActivity(on: topic) }
        if let limit = configuration.perTopicRateLimit, !admit(topic: topic, limit: limit) { return }
        let received = MQTTMessage(
            topic: topic, payload: payload, qos: MQTTQoS(rawValue: raw.qos) ?? .atMostOnce,
            retain: raw.retain, receivedAt: Date()
        )
        if hasTaps.load(ordering: .relaxed), let tap = taps.withLock({ $0.first { topic.hasPrefix($0.prefix) }?.handler }) {
            tap(received)
            return
        }
        switch inbound.yield(received) {
        case .enqueued(let remaining):
            loop.inboundNearlyFull = remaining < lowWaterMark
        case .dropped, .terminated:
            loop.inboundNearlyFull = true
            counters.dropped.wrappingAdd(1, ordering: .relaxed)
        @unknown default: break
        }
    }

    /// The per-topic rate limit, on the loop thread: true when the message may be delivered.
    private func admit(topic: String, limit: MQTTRateLimit) -> Bool {
        let now = ContinuousClock.now
        let burst = Double(limit.burst)
        var bucket = loop.buckets[topic] ?? TopicBucket(tokens: burst, refilled: now)
        let elapsed = bucket.refilled.duration(to: now)
        let seconds = elapsed / .seconds(1)
        bucket.tokens = min(burst, bucket.tokens + seconds * limit.messagesPerSecond)
        bucket.refilled = now
        let admitted = bucket.tokens >= 1
        if admitted {
            bucket.tokens -= 1
        } else {
            counters.rateLimited.wrappingAdd(1, ordering: .relaxed)
            counters.rateLimitedTopics.withLock { topics in
                if topics[topic] != nil || topics.count < 100 { topics[topic, default: 0] += 1 }
            }
            bucket.dropsSinceLog += 1
            // One line per flooding topic at most every 10 s, with the count: never a line per drop.
            if bucket.loggedAt.map({ $0.duration(to: now) >= .seconds(10) }) ?? true {
                logger.warning("MQTT topic over its rate limit; messages dropped", metadata: [
                    "topic": "\(topic)", "dropped": "\(bucket.dropsSinceLog)",
                    "limit_per_s": "\(limit.messagesPerSecond)",
                ])
                bucket.dropsSinceLog = 0
                bucket.loggedAt = now
            }
        }
        loop.buckets[topic] = bucket
        return admitted
    }

    // MARK: - Connection state

    /// Fails what waits on this connection; idempotent.
    private func markDisconnected(reason: String) {
        loop.sessionUp = false
        let (publishes, subscribes, unsubscribes, wasConnected, stopping) = shared.withLock { state in
            // A subscription stays registered and is sent again on the next connect: its call returns.
            let settled = state.pendingSubscribes.values.compactMap { $0.waiter?.settle(packets: 1, error: nil) }
            let taken = (
                Array(state.pendingPublishes.values), settled,
                Array(state.pendingUnsubscribes.values), state.connected, state.stopRequested
            )
            state.pendingPublishes.removeAll()
            state.pendingSubscribes.removeAll()
            state.pendingUnsubscribes.removeAll()
            if state.connected { state.lastDisconnectReason = reason }
            state.connected = false
            return taken
        }
        if wasConnected && !stopping {
            counters.connectionsLost.wrappingAdd(1, ordering: .relaxed)
            logger.warning("MQTT connection lost; reconnecting", metadata: ["reason": "\(reason)"])
        }
        if !publishes.isEmpty {
            counters.publishFailures.wrappingAdd(publishes.count, ordering: .relaxed)
            let error: MQTTError = stopping ? .clientClosed : .connectionLost
            for acknowledgement in publishes { acknowledgement.settle(.failure(error)) }
        }
        for done in subscribes { done.resume() }
        for continuation in unsubscribes { continuation.resume() }
        if wasConnected { connectionStates.yield(.disconnected(reason: reason)) }
    }

    // MARK: - Watchdog

    private func noteActivity(on topic: String) {
        let now = ContinuousClock.now
        var resumed: [String] = []
        let key = topic
        var topic = topic
        topic.withUTF8 { utf8 in
            shared.withLock { state in
                if state.noteActivity(filter: key, at: now) { resumed.append(key) }
                for key in state.watchedWildcards where state.subscriptions[key]?.filter.matches(utf8: utf8) == true {
                    if state.noteActivity(filter: key, at: now) { resumed.append(key) }
                }
            }
        }
        for filter in resumed {
            logger.info("MQTT subscription active again", metadata: ["filter": "\(filter)"])
            watchdogEvents.yield(.resumed(filter: filter), remember: false)
        }
    }

    private func checkSilence() {
        guard hasWatchedSubscriptions.load(ordering: .relaxed) else { return }
        let now = ContinuousClock.now
        let events: [MQTTWatchdogEvent] = shared.withLock { state in
            guard state.connected, let earliest = state.earliestSilence, now >= earliest else { return [] }
            return state.markSilent(at: now)
        }
        for event in events {
            counters.silenceEvents.wrappingAdd(1, ordering: .relaxed)
            if case .silent(let filter, let silence) = event {
                logger.warning("MQTT subscription silent", metadata: ["filter": "\(filter)", "silence": "\(silence)"])
            }
            watchdogEvents.yield(event, remember: false)
        }
    }

    func refreshWatchedFlag() {
        let watched = shared.withLock { state in state.watchedCount > 0 }
        hasWatchedSubscriptions.store(watched, ordering: .relaxed)
    }

    // MARK: - Lifecycle

    /// Starts the loop thread for a first connect; `continuation` resumes at the first CONNACK
    /// (or with the error of the first attempt when `retry` is false).
    func start(retry: Bool, continuation: CheckedContinuation<Void, any Error>) {
        let start: Bool = shared.withLock { state in
            switch state.phase {
            case .idle:
                state.phase = .starting
                state.firstConnect = continuation
                state.retryFirstConnect = retry
                state.lastRefusal = nil
                return true
            case .stopping, .closed:
                continuation.resume(throwing: MQTTError.clientClosed)
                return false
            case .starting, .running:
                continuation.resume(throwing: MQTTError.alreadyStarted)
                return false
            }
        }
        guard start else { return }
        let thread = Thread { [self] in self.runLoop() }
        thread.name = "mqtt-\(configuration.clientID ?? configuration.host)"
        thread.start()
    }

    /// Asks the loop to send DISCONNECT (no will) and end. Returns at once.
    func requestStop() {
        let closeNow: Bool = shared.withLock { state in
            switch state.phase {
            case .idle:
                state.phase = .closed
                state.stopRequested = true
                return true
            case .starting, .running:
                state.phase = .stopping
                state.stopRequested = true
                return false
            case .stopping, .closed:
                return false
            }
        }
        stopFlag.store(true, ordering: .releasing)
        if closeNow {
            connectionStates.yield(.closed)
            finishStreams()
        }
        wakeup.signal()
    }

    func requestAbort() {
        abortFlag.store(true, ordering: .releasing)
    }

    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done: Bool = shared.withLock { state in
                if state.phase == .closed || state.phase == .idle { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func finishStreams() {
        inbound.finish()
        connectionStates.finish()
        watchdogEvents.finish()
    }

    // MARK: - The loop thread

    private static let loopTimeoutMilliseconds: Int32 = 100

    private func runLoop() {
        var backoff = MQTTReconnectBackoff(delay: configuration.reconnectDelay)
        var socketUp = false
        var firstAttempt = true
        var attemptStartedAt: ContinuousClock.Instant?
        var failuresInARow = 0
        var nextSilenceCheck = ContinuousClock.now
        // A connection that dies right after CONNACK (a client-id clash, a broker that kicks us)
        // must not reset the backoff, or the client would reconnect in a tight loop.
        var connectedAt: ContinuousClock.Instant?
        let stableConnection = Duration.seconds(10)
        let host = configuration.host
        let port = configuration.port
        if configuration.tls == nil && configuration.password != nil && !Self.isLoopback(host) {
            logger.warning("MQTT password sent without TLS to a non-loopback broker; use mqtts")
        }
        if configuration.tls?.insecure == true {
            logger.warning("TLS VERIFICATION IS DISABLED (tls.insecure): the broker's certificate and name are not checked. Never use this in production.")
        }
        loop.firstConnectError = nil
        setLogHook(true)

        while true {
            if stopFlag.load(ordering: .acquiring) { break }
            let abort = abortFlag.exchange(false, ordering: .acquiringAndReleasing)

            if !socketUp {
                if !firstAttempt {
                    let wait = backoff.next()
                    logger.debug("MQTT reconnect attempt", metadata: ["attempt": "\(backoff.attempt)", "wait": "\(wait)"])
                    wakeup.wait(seconds: (wait / .seconds(1)))
                    if stopFlag.load(ordering: .acquiring) { break }
                }
                lastLibraryLog.withLock { $0 = nil }
                // Asynchronous connect: only the name lookup blocks; the TCP and TLS handshakes
                // finish inside mosquitto_loop, so connectTimeout and stop requests bound them.
                loop.lastDisconnectErrno = 0
                let rc = firstAttempt ? firstConnect(host: host, port: port) : mosquitto_reconnect_async(handle)
                let systemErrno = errno
                firstAttempt = false
                if rc != MosquittoError.success {
                    let error = MQTTError.library(
                        MosquittoError(code: rc, systemErrno: systemErrno),
                        context: connectContext(host: host, port: port)
                    )
                    if shouldEndFirstConnect(with: error) { break }
                    failuresInARow += 1
                    if failuresInARow == 1 {
                        logger.warning("MQTT connect failed; retrying with backoff", metadata: ["error": "\(error)"])
                    }
                    continue
                }
                socketUp = true
                attemptStartedAt = .now
            }

            if abort, mosquitto_socket(handle) >= 0 {
                logger.warning("MQTT connection aborted on request (no DISCONNECT sent)")
                _ = shutdown(mosquitto_socket(handle), Int32(SHUT_RDWR))
            }

            var (rc, systemErrno) = (mosquitto_loop(handle, Self.loopTimeoutMilliseconds, 1), errno)
            if rc == MosquittoError.success && loop.sessionUp {
                (rc, systemErrno) = readBurst()
            }
            if configuration.lowLatencySocket { acknowledgeAtOnce() }
            if rc != MosquittoError.success || mosquitto_socket(handle) < 0 {
                if let since = connectedAt, since.duration(to: .now) >= stableConnection { backoff.reset() }
                connectedAt = nil
                socketUp = false
                attemptStartedAt = nil
                setLogHook(true)
                let error = failureOfLastAttempt(code: rc, systemErrno: systemErrno, host: host, port: port)
                markDisconnected(reason: "\(error)")
                if shouldEndFirstConnect(with: error) { break }
                failuresInARow += 1
                if failuresInARow == 1 && loop.everConnected == false {
                    logger.warning("MQTT connect failed; retrying with backoff", metadata: ["error": "\(error)"])
                }
                continue
            }

            if loop.justConnected {
                loop.justConnected = false
                attemptStartedAt = nil
                failuresInARow = 0
                connectedAt = .now
                setLogHook(logger.logLevel <= .trace)
            } else if let started = attemptStartedAt, started.duration(to: .now) > configuration.connectTimeout {
                attemptStartedAt = nil
                if shouldEndFirstConnect(with: .connectTimeout(host: host, port: port)) { break }
                logger.warning("MQTT broker sent no CONNACK in time; reconnecting")
                _ = shutdown(mosquitto_socket(handle), Int32(SHUT_RDWR))
            }
            if hasWatchedSubscriptions.load(ordering: .relaxed) {
                let now = ContinuousClock.now
                if now >= nextSilenceCheck {
                    nextSilenceCheck = now.advanced(by: .milliseconds(50))
                    checkSilence()
                }
            }
        }

        // Leaving: say goodbye properly so that the broker does not publish the will.
        if mosquitto_socket(handle) >= 0 {
            let rc = mosquitto_disconnect(handle)
            if rc == MosquittoError.success {
                let deadline = ContinuousClock.now.advanced(by: .seconds(2))
                while mosquitto_socket(handle) >= 0 && ContinuousClock.now < deadline {
                    if mosquitto_loop(handle, 50, 1) != MosquittoError.success { break }
                }
            }
        }
        finishLoop()
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The first CONNECT of a `connect()`. MQTT 5 sessions that outlive the connection need
    /// a Session Expiry Interval property; libmosquitto only takes CONNECT properties in its
    /// blocking connect (and keeps them for later reconnects), so that case blocks on the
    /// TCP connect once. Everything else connects asynchronously.
    private func firstConnect(host: String, port: Int) -> Int32 {
        let keepAlive = Int32(configuration.keepAlive.wholeSeconds)
        guard configuration.protocolVersion == .v5 else {
            return mosquitto_connect_async(handle, host, Int32(port), keepAlive)
        }
        let expiry: UInt32
        if let interval = configuration.sessionExpiryInterval {
            expiry = UInt32(clamping: interval.wholeSeconds)
        } else {
            expiry = configuration.cleanSession ? 0 : UInt32.max
        }
        guard expiry > 0 else { return mosquitto_connect_async(handle, host, Int32(port), keepAlive) }
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        let rc = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), expiry)
        guard rc == MosquittoError.success else { return rc }
        return mosquitto_connect_bind_v5(handle, host, Int32(port), keepAlive, nil, properties)
    }

    /// mosquitto_loop reads one packet per select(). While packets keep coming, read on
    /// without the select: libmosquitto leaves errno at EAGAIN when the socket is drained.
    /// (A stray EAGAIN only ends the burst early.) Writes and keep-alive stay with mosquitto_loop.
    private func readBurst() -> (Int32, Int32) {
        for _ in 0..<Self.maxBurstPackets {
            guard mosquitto_socket(handle) >= 0, !loop.inboundNearlyFull else { break }
            errno = 0
            let rc = mosquitto_loop_read(handle, 1)
            let readErrno = errno
            if rc != MosquittoError.success { return (rc, readErrno) }
            if readErrno == EAGAIN || readErrno == EWOULDBLOCK { break }
        }
        return (MosquittoError.success, 0)
    }

    private static let maxBurstPackets = 256

    /// TCP_QUICKACK: ACK what was read now instead of up to 40 ms later. The kernel drops back to
    /// delayed ACKs by itself, so it is set again after every read. A broker that runs Nagle
    /// (mosquitto does by default) sends the next small message only once the previous is ACKed.
    private func acknowledgeAtOnce() {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return }
        var on: Int32 = 1
        _ = setsockopt(socket, Int32(IPPROTO_TCP), Self.tcpQuickAck, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// `TCP_QUICKACK` from <netinet/tcp.h> (Linux).
    private static let tcpQuickAck: Int32 = 12

    private func connectContext(host: String, port: Int) -> String {
        var context = "connecting to \(configuration.tls == nil ? "mqtt" : "mqtts")://\(host):\(port)"
        if let line = lastLibraryLog.withLock({ $0 }) { context += " (\(line))" }
        return context
    }

    private func failureOfLastAttempt(code: Int32, systemErrno: Int32, host: String, port: Int) -> MQTTError {
        if let refusal = shared.withLock({ $0.lastRefusal }) { return refusal }
        let code = code == MosquittoError.success ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : code
        let systemErrno = loop.lastDisconnectErrno != 0 ? loop.lastDisconnectErrno : systemErrno
        return .library(MosquittoError(code: code, systemErrno: systemErrno), context: connectContext(host: host, port: port))
    }

    /// During a first `connect()` without retry, a failure ends the loop and is thrown to the caller.
    private func shouldEndFirstConnect(with error: MQTTError) -> Bool {
        let end = shared.withLock { $0.firstConnect != nil && !$0.retryFirstConnect }
        if end { loop.firstConnectError = error }
        return end
    }

    private func finishLoop() {
        if mosquitto_socket(handle) >= 0 { _ = mosquitto_disconnect(handle) }
        let (closed, first, waiters) = shared.withLock { state in
            let closed = state.stopRequested
            state.phase = closed ? .closed : .idle
            let taken = (closed, state.firstConnect, state.exitWaiters)
            state.firstConnect = nil
            state.exitWaiters.removeAll()
            return taken
        }
        markDisconnected(reason: closed ? "disconnected by the client" : "first connect failed")
        if closed {
            connectionStates.yield(.closed)
            finishStreams()
            logger.debug("MQTT client closed")
        }
        if let first {
            first.resume(throwing: loop.firstConnectError ?? (closed ? MQTTError.clientClosed : MQTTError.notConnected))
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// An interruptible sleep for the loop thread (the backoff wait ends early on `signal`).
final class Wakeup: @unchecked Sendable {
    // @unchecked: `signaled` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var signaled = false

    func wait(seconds: Double) {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !signaled {
            if !condition.wait(until: deadline) { break }
        }
        signaled = false
    }

    func signal() {
        condition.lock()
        signaled = true
        condition.signal()
        condition.unlock()
    }
}
