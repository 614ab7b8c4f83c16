import VigilSupport


/// One pending `enqueue` call, waiting for the storage thread's next group commit.
final class EnqueueRequest: Sendable {
    let topic: String
    let payload: [UInt8]
    let severity: Int
    let key: String?
    let createdAt: Int64
    private let state = Locked<State>(State())

    private struct State {
        var continuation: CheckedContinuation<OutboxEnqueueResult, any Error>?
        var cancelled = false
        var finished = false
    }

    init(topic: String, payload: [UInt8], severity: Int, key: String?, createdAt: Int64) {
        self.topic = topic
        self.payload = payload
        self.severity = severity
        self.key = key
        self.createdAt = createdAt
    }

    /// Bytes it counts against `maxBytes`.
    var size: Int { topic.utf8.count + payload.count + (key?.utf8.count ?? 0) }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Attaches the caller's continuation; resumes it at once if the request already finished.
    func attach(_ continuation: CheckedContinuation<OutboxEnqueueResult, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func cancel() {
        state.withLock { $0.cancelled = true }
    }

    /// Resumes the caller once; later calls do nothing.
    func finish(_ result: Result<OutboxEnqueueResult, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<OutboxEnqueueResult, any Error>? in
            guard !state.finished else { return nil }
            state.finished = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}
