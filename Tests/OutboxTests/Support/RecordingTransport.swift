import Foundation
import Outbox

/// The outbox's peer in tests: a real in-process receiver that records every message it got,
/// in arrival order, and acknowledges it, refuses it (link trouble), or holds the
/// acknowledgement until released. Swap it for an MQTT-backed transport to run the same
/// scenarios against a real broker.
final class RecordingTransport: OutboxTransport {
    struct State {
        var received: [OutboxMessage] = []
        var acknowledged: [UInt64] = []
        var failing = false
        var failuresLeft = 0
        var holding = false
        var held: [(UUID, CheckedContinuation<Void, any Error>)] = []
        var outstanding = 0
        var maxOutstanding = 0
        var refused = 0
        var loseAcknowledgements: Set<UInt64> = []
        var randomSendFailures = 0.0
        var randomLostAcknowledgements = 0.0
    }

    struct Refused: Error {}

    let state = Protected(State())

    /// While true, every send throws (the broker is unreachable).
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }

    /// The next `count` sends throw.
    func failNext(_ count: Int) { state.withLock { $0.failuresLeft = count } }

    /// These sequences arrive, but their first acknowledgement is lost (the PUBACK never came).
    func loseAcknowledgements(of sequences: Set<UInt64>) { state.withLock { $0.loseAcknowledgements = sequences } }

    struct AcknowledgementLost: Error {}

    /// Refuses that fraction of sends and loses that fraction of acknowledgements, at random.
    func setRandomFaults(sends: Double, acknowledgements: Double) {
        state.withLock {
            $0.randomSendFailures = sends
            $0.randomLostAcknowledgements = acknowledgements
        }
    }

    /// While true, acknowledgements wait until `release` (PUBACKs that have not come yet).
    func setHolding(_ holding: Bool) { state.withLock { $0.holding = holding } }

    /// Releases up to `count` held acknowledgements, oldest first.
    func release(_ count: Int = .max) {
        let released = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            let n = min(count, state.held.count)
            defer { state.held.removeFirst(n) }
            return state.held.prefix(n).map(\.1)
        }
        for continuation in released { continuation.resume() }
    }

    var received: [OutboxMessage] { state.withLock { $0.received } }
    var receivedSequences: [UInt64] { state.withLock { $0.received.map(\.sequence) } }
    var acknowledged: [UInt64] { state.withLock { $0.acknowledged } }
    var maxOutstanding: Int { state.withLock { $0.maxOutstanding } }
    var heldCount: Int { state.withLock { $0.held.count } }

    func send(_ message: OutboxMessage) async throws -> OutboxAcknowledgement {
        let hold = try state.withLock { state -> Bool in
            if state.failing || state.failuresLeft > 0 || Double.random(in: 0..<1) < state.randomSendFailures {
                state.failuresLeft = max(state.failuresLeft - 1, 0)
                state.refused += 1
                throw Refused()
            }
            state.received.append(message)
            state.outstanding += 1
            state.maxOutstanding = max(state.maxOutstanding, state.outstanding)
            return state.holding
        }
        let sequence = message.sequence
        return OutboxAcknowledgement { [self] in
            defer { state.withLock { $0.outstanding -= 1 } }
            if hold {
                // Like a real link, a cancelled wait for a PUBACK ends at once.
                let id = UUID()
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        let cancelled = state.withLock { state -> Bool in
                            if Task.isCancelled { return true }
                            state.held.append((id, continuation))
                            return false
                        }
                        if cancelled { continuation.resume(throwing: CancellationError()) }
                    }
                } onCancel: {
                    let continuation = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                        guard let index = state.held.firstIndex(where: { $0.0 == id }) else { return nil }
                        return state.held.remove(at: index).1
                    }
                    continuation?.resume(throwing: CancellationError())
                }
            }
            try state.withLock { state in
                if state.loseAcknowledgements.remove(sequence) != nil { throw AcknowledgementLost() }
                if Double.random(in: 0..<1) < state.randomLostAcknowledgements { throw AcknowledgementLost() }
                state.acknowledged.append(sequence)
            }
        }
    }
}

/// A link whose state the test sets.
final class LinkSwitch: Sendable {
    let states: AsyncStream<Bool>
    private let continuation: AsyncStream<Bool>.Continuation

    init() {
        (states, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .unbounded)
    }

    func up() { continuation.yield(true) }
    func down() { continuation.yield(false) }
    func end() { continuation.finish() }
}
