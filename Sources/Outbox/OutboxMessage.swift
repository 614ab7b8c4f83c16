import VigilSupport

/// One stored event on its way upstream, as the transport receives it.
///
/// The payload is stored exactly as the producer gave it. The delivery fields (`sequence`, `key`,
/// `historical`) travel beside it; `jsonObjectBody()` splices them into a JSON object payload,
/// so the outbox stays ignorant of both MQTT and the event schema.
public struct OutboxMessage: Sendable, Equatable {
    /// Monotonically increasing, never reused (see `Outbox`).
    public var sequence: UInt64
    /// The idempotency key: the producer's, or `<database-id>-<sequence>`.
    public var key: String
    public var topic: String
    public var payload: [UInt8]
    public var severity: Int
    /// When it was produced, ms since 1970.
    public var createdAt: Int64
    /// True when this event was not delivered live: see `Outbox` for the exact rule.
    public var historical: Bool

    public init(
        sequence: UInt64, key: String, topic: String, payload: [UInt8], severity: Int, createdAt: Int64,
        historical: Bool
    ) {
        self.sequence = sequence
        self.key = key
        self.topic = topic
        self.payload = payload
        self.severity = severity
        self.createdAt = createdAt
        self.historical = historical
    }

    /// The payload with `"sequence"`, `"idempotency_key"` and `"historical"` inserted as the first
    /// members of its top-level JSON object. Returns nil when the payload does not start with `{`
    /// (after white space), so the caller can decide what to send instead.
    public func jsonObjectBody(
        sequenceField: String = "sequence", keyField: String = "idempotency_key",
        historicalField: String = "historical"
    ) -> [UInt8]? {
        var start = payload.startIndex
        while start < payload.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(payload[start]) { start += 1 }
        guard start < payload.endIndex, payload[start] == UInt8(ascii: "{") else { return nil }
        var rest = start + 1
        while rest < payload.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(payload[rest]) { rest += 1 }
        let isEmptyObject = rest < payload.endIndex && payload[rest] == UInt8(ascii: "}")
        var head = "{" + JSONText.quoted(sequenceField) + ":" + String(sequence)
        head += "," + JSONText.quoted(keyField) + ":" + JSONText.quoted(key)
        head += "," + JSONText.quoted(historicalField) + ":" + (historical ? "true" : "false")
        head += isEmptyObject ? "" : ","
        var body = Array(head.utf8)
        body.reserveCapacity(body.count + payload.count)
        body.append(contentsOf: payload[rest...])
        return body
    }
}

/// The outbox's view of the upstream link: it hands over one message at a time, in order.
///
/// `send` is called from a single task, in delivery order, so a transport that queues the message
/// on its connection before returning keeps that order on the wire. It returns an
/// `OutboxAcknowledgement` that completes when the broker acknowledged the message (MQTT: the
/// PUBACK of a QoS 1 publish) or throws when it was not. At most `maxInFlight` acknowledgements
/// are outstanding. Both `send` and the acknowledgement must return or throw promptly when the
/// calling task is cancelled (the outbox cancels them when the link goes down or it stops).
///
/// A transport whose `send` itself waits for the acknowledgement is fine too (return
/// `.acknowledged`); it then has one message in flight at a time.
public protocol OutboxTransport: Sendable {
    func send(_ message: OutboxMessage) async throws -> OutboxAcknowledgement
}

/// The pending acknowledgement of one sent message.
public struct OutboxAcknowledgement: Sendable {
    let wait: @Sendable () async throws -> Void

    /// `wait` returns when the broker acknowledged the message and throws when it did not.
    public init(_ wait: @escaping @Sendable () async throws -> Void) {
        self.wait = wait
    }

    /// Already acknowledged (a transport whose `send` waited for it).
    public static let acknowledged = OutboxAcknowledgement {}
}

/// A transport made of a closure that sends one message and returns after its acknowledgement.
public struct OutboxClosureTransport: OutboxTransport {
    let body: @Sendable (OutboxMessage) async throws -> Void

    public init(_ body: @escaping @Sendable (OutboxMessage) async throws -> Void) {
        self.body = body
    }

    public func send(_ message: OutboxMessage) async throws -> OutboxAcknowledgement {
        try await body(message)
        return .acknowledged
    }
}
