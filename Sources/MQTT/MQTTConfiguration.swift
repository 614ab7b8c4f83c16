/// Which MQTT protocol the client speaks.
public enum MQTTProtocolVersion: String, Sendable, Equatable, Codable {
    case v311 = "3.1.1"
    case v5 = "5"
}

/// MQTT quality of service.
public enum MQTTQoS: Int32, Sendable, Equatable, Comparable, Codable {
    /// Fire and forget.
    case atMostOnce = 0
    /// Acknowledged with PUBACK; may be delivered more than once.
    case atLeastOnce = 1
    /// Four-way handshake ending in PUBCOMP.
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// TLS settings. Leaving `caFile` nil trusts the operating system's certificate store.
public struct MQTTTLSConfiguration: Sendable, Equatable {
    /// PEM file of the certificate authorities that sign the broker's certificate.
    public var caFile: String?
    /// PEM client certificate, for brokers that require one (set `keyFile` too).
    public var certificateFile: String?
    /// PEM private key of `certificateFile` (unencrypted).
    public var keyFile: String?
    /// "tlsv1.2" or "tlsv1.3"; nil lets OpenSSL choose.
    public var tlsVersion: String?
    /// Disables verification of the broker's certificate and host name.
    /// For test benches only: anyone on the path can read and alter the traffic.
    /// The client logs a warning on every connect when this is set.
    public var insecure: Bool

    public init(
        caFile: String? = nil,
        certificateFile: String? = nil,
        keyFile: String? = nil,
        tlsVersion: String? = nil,
        insecure: Bool = false
    ) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.tlsVersion = tlsVersion
        self.insecure = insecure
    }
}

/// The message the broker publishes for the client when its connection dies without DISCONNECT.
public struct MQTTWill: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    public init(topic: String, payload: String, qos: MQTTQoS = .atLeastOnce, retain: Bool = false) {
        self.init(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain)
    }
}

/// Bounds of the reconnect backoff: the first retry waits about `min`, each failure
/// doubles the wait up to `max`, and every wait is jittered (see `MQTTReconnectBackoff`).
public struct MQTTReconnectDelay: Sendable, Equatable {
    public var min: Duration
    public var max: Duration

    public init(min: Duration, max: Duration) {
        self.min = min
        self.max = max
    }

    public static let `default` = MQTTReconnectDelay(min: .milliseconds(500), max: .seconds(30))
}

/// What the inbound buffer gives up when the consumer falls behind.
public enum MQTTOverflowPolicy: String, Sendable, Equatable {
    /// Keep the freshest messages: the oldest buffered message is discarded.
    case dropOldest
    /// Keep what is buffered: the arriving message is discarded.
    case dropNewest
}

/// Everything needed to connect one client to one broker.
public struct MQTTConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Client identifier. nil: the library makes a random one (needs `cleanSession`).
    public var clientID: String?
    public var protocolVersion: MQTTProtocolVersion
    /// Keep-alive interval: 0 (off) or at least 5 seconds. A dead broker is noticed after 1.5×.
    public var keepAlive: Duration
    /// MQTT 3.1.1 clean session / MQTT 5 clean start.
    public var cleanSession: Bool
    /// MQTT 5 only: how long the broker keeps the session after the connection ends.
    /// nil: 0 with `cleanSession`, else "never expires" (like a 3.1.1 persistent session).
    public var sessionExpiryInterval: Duration?
    public var username: String?
    public var password: String?
    public var tls: MQTTTLSConfiguration?
    public var will: MQTTWill?
    public var reconnectDelay: MQTTReconnectDelay
    /// How long to wait for CONNACK after the TCP (and TLS) connection is up.
    public var connectTimeout: Duration
    /// Inbound messages buffered between libmosquitto's thread and the consumer.
    public var inboundBufferCapacity: Int
    public var inboundOverflowPolicy: MQTTOverflowPolicy
    /// Default silence timeout for `subscribe` (nil: the watchdog ignores the filter).
    public var subscriptionSilenceTimeout: Duration?
    /// QoS 1/2 messages in flight at once; more are queued inside libmosquitto.
    public var maxInflightMessages: Int
    /// Low-latency socket: send each packet at once (TCP_NODELAY) and acknowledge what arrives at
    /// once (TCP_QUICKACK after every read). Without them Nagle's algorithm, ours or the broker's
    /// (mosquitto's `set_tcp_nodelay` is off by default), holds a small packet back until the
    /// previous one is ACKed, and a delayed ACK makes that wait up to 40 ms: a reading sent at
    /// QoS 0 to a subscriber that sends nothing back waits for it. Off saves a system call per
    /// read and some segments at the cost of that latency.
    public var lowLatencySocket = true
    /// Fairness: at most this many inbound messages per second on any one topic (a token bucket
    /// per topic, refilled continuously, holding up to `burst`); more are dropped on arrival and
    /// counted (`statistics.rateLimited`), so one flooding sensor cannot fill the inbound buffer
    /// and delay every other topic's messages. nil: no limit.
    public var perTopicRateLimit: MQTTRateLimit?

    public init(
        host: String = "127.0.0.1",
        port: Int = 1883,
        clientID: String? = nil,
        protocolVersion: MQTTProtocolVersion = .v311,
        keepAlive: Duration = .seconds(30),
        cleanSession: Bool = true,
        username: String? = nil,
        password: String? = nil,
        tls: MQTTTLSConfiguration? = nil,
        will: MQTTWill? = nil,
        reconnectDelay: MQTTReconnectDelay = .default,
        connectTimeout: Duration = .seconds(10),
        inboundBufferCapacity: Int = 10_000,
        inboundOverflowPolicy: MQTTOverflowPolicy = .dropOldest,
        subscriptionSilenceTimeout: Duration? = nil,
        maxInflightMessages: Int = 20
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.protocolVersion = protocolVersion
        self.keepAlive = keepAlive
        self.cleanSession = cleanSession
        self.sessionExpiryInterval = nil
        self.username = username
        self.password = password
        self.tls = tls
        self.will = will
        self.reconnectDelay = reconnectDelay
        self.connectTimeout = connectTimeout
        self.inboundBufferCapacity = inboundBufferCapacity
        self.inboundOverflowPolicy = inboundOverflowPolicy
        self.subscriptionSilenceTimeout = subscriptionSilenceTimeout
        self.maxInflightMessages = maxInflightMessages
    }

    /// Checks what can be checked without a network; throws `MQTTError.invalidConfiguration`.
    public func validate() throws(MQTTError) {
        if host.isEmpty { throw .invalidConfiguration("host is empty") }
        if !(1...65535).contains(port) { throw .invalidConfiguration("port \(port) is not in 1...65535") }
        let keepAliveSeconds = keepAlive.wholeSeconds
        if keepAliveSeconds != 0 && !(5...65535).contains(keepAliveSeconds) {
            throw .invalidConfiguration("keepAlive must be 0 or 5...65535 seconds, got \(keepAlive)")
        }
        if clientID == nil && !cleanSession {
            throw .invalidConfiguration("a persistent session (cleanSession false) needs a clientID")
        }
        if let clientID, clientID.utf8.count > 65535 || clientID.utf8.contains(0) {
            throw .invalidConfiguration("clientID is longer than 65535 bytes or contains NUL")
        }
        if let interval = sessionExpiryInterval, interval < .zero || interval.wholeSeconds > Int64(UInt32.max) {
            throw .invalidConfiguration("sessionExpiryInterval must be within 0...\(UInt32.max) seconds")
        }
        if password != nil && username == nil {
            throw .invalidConfiguration("a password needs a username")
        }
        if reconnectDelay.min <= .zero || reconnectDelay.max < reconnectDelay.min {
            throw .invalidConfiguration("reconnectDelay needs 0 < min <= max, got \(reconnectDelay.min)...\(reconnectDelay.max)")
        }
        if connectTimeout <= .zero { throw .invalidConfiguration("connectTimeout must be positive") }
        if inboundBufferCapacity < 1 { throw .invalidConfiguration("inboundBufferCapacity must be at least 1") }
        if !(1...65535).contains(maxInflightMessages) {
            throw .invalidConfiguration("maxInflightMessages must be in 1...65535")
        }
        if let timeout = subscriptionSilenceTimeout, timeout <= .zero {
            throw .invalidConfiguration("subscriptionSilenceTimeout must be positive")
        }
        if let limit = perTopicRateLimit, !(limit.messagesPerSecond > 0) || limit.burst < 1 {
            throw .invalidConfiguration("perTopicRateLimit needs a positive rate and a burst of at least 1")
        }
        if let tls {
            if (tls.certificateFile == nil) != (tls.keyFile == nil) {
                throw .invalidConfiguration("tls.certificateFile and tls.keyFile go together")
            }
        }
        if let will {
            do { try MQTTTopicName.validate(will.topic) } catch {
                throw .invalidConfiguration("will topic: \(error)")
            }
        }
    }
}

extension Duration {
    /// Whole seconds, rounded down (negative durations give negative values).
    var wholeSeconds: Int64 { components.seconds }

    /// Milliseconds, rounded down, clamped to Int32.
    var clampedMilliseconds: Int32 {
        let ms = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}

/// A per-topic inbound rate limit (see `MQTTConfiguration.perTopicRateLimit`).
public struct MQTTRateLimit: Sendable, Equatable {
    public var messagesPerSecond: Double
    /// Messages a quiet topic may deliver at once.
    public var burst: Int

    public init(messagesPerSecond: Double, burst: Int? = nil) {
        self.messagesPerSecond = messagesPerSecond
        self.burst = burst ?? max(1, Int((messagesPerSecond * 2).rounded(.up)))
    }
}
