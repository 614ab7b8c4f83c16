import VigilSupport

/// A message handed to libmosquitto by `MQTTClient.send(topic:payload:qos:retain:)`, whose
/// acknowledgement can be awaited later, so that several QoS 1/2 messages are in flight at once.
///
/// ```swift
/// var receipts: [MQTTPublishReceipt] = []
/// for m in batch { receipts.append(try client.send(topic: m.topic, payload: m.body, qos: .atLeastOnce)) }
/// for r in receipts { try await r.acknowledged() }   // PUBACKs, in any order
/// ```
public struct MQTTPublishReceipt: Sendable {
    /// The MQTT packet identifier (0 for QoS 0).
    public let messageID: Int32
    let acknowledgement: PublishAcknowledgement?

    init(messageID: Int32, acknowledgement: PublishAcknowledgement?) {
        self.messageID = messageID
        self.acknowledgement = acknowledgement
    }

    /// Returns when the broker acknowledged the message (PUBACK for QoS 1, PUBCOMP for QoS 2;
    /// at once for QoS 0). Throws `MQTTError.connectionLost` when the connection dropped first,
    /// `MQTTError.clientClosed` after `disconnect()`, `MQTTError.publishRejected` when an MQTT 5
    /// broker refused it, and `CancellationError` when the waiting task is cancelled (the message
    /// may still be acknowledged; nobody hears of it). May be awaited more than once.
    public func acknowledged() async throws {
        guard let acknowledgement else { return }
        try await acknowledgement.wait()
    }

    /// Whether the outcome is known yet (acknowledged or failed).
    public var isSettled: Bool {
        acknowledgement?.isSettled ?? true
    }
}

/// The one-shot outcome of a QoS 1/2 publish: settled by the loop thread (PUBACK, connection loss),
/// awaited by any number of tasks, before or after it settles.
final class PublishAcknowledgement: Sendable {
    private struct State {
        var outcome: Result<Void, MQTTError>?
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0
    }

    // Locked rather than Mutex: settled on libmosquitto's thread (see Locked).
    private let state = Locked(State())

    var isSettled: Bool { state.withLock { $0.outcome != nil } }

    /// Records the outcome and wakes every waiter; later calls are ignored.
    func settle(_ outcome: Result<Void, MQTTError>) {
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { s in
            guard s.outcome == nil else { return [] }
            s.outcome = outcome
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            return all
        }
        for waiter in waiters {
            switch outcome {
            case .success: waiter.resume()
            case .failure(let error): waiter.resume(throwing: error)
            }
        }
    }

    /// Waits for the outcome; `cancellable` false ignores cancellation of the waiting task.
    func wait(cancellable: Bool = true) async throws {
        let id = state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        guard cancellable else { return try await register(id, cancellable: false) }
        try await withTaskCancellationHandler {
            try await register(id, cancellable: true)
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func register(_ id: Int, cancellable: Bool) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready: Result<Void, any Error>? = state.withLock { s in
                if let outcome = s.outcome { return outcome.mapError { $0 } }
                if cancellable && Task.isCancelled { return .failure(CancellationError()) }
                s.waiters[id] = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
