import Synchronization
import VigilSupport

/// Fans values out to any number of `AsyncStream`s; remembers the latest value and
/// gives it first to each new subscriber.
final class Broadcast<Element: Sendable>: Sendable {
    private struct Subscribers {
        var latest: Element?
        var nextID = 0
        var continuations: [Int: AsyncStream<Element>.Continuation] = [:]
        var finished = false
    }

    private let subscribers: Locked<Subscribers>
    private let bufferSize: Int

    init(initial: Element?, bufferSize: Int = 64) {
        subscribers = Locked(Subscribers(latest: initial))
        self.bufferSize = bufferSize
    }

    func makeStream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: Element.self, bufferingPolicy: .bufferingNewest(bufferSize)
        )
        let id: Int? = subscribers.withLock { state in
            if let latest = state.latest { continuation.yield(latest) }
            if state.finished {
                continuation.finish()
                return nil
            }
            let id = state.nextID
            state.nextID += 1
            state.continuations[id] = continuation
            return id
        }
        if let id {
            continuation.onTermination = { [weak self] _ in
                _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
            }
        }
        return stream
    }

    func yield(_ value: Element, remember: Bool = true) {
        subscribers.withLock { state in
            if remember { state.latest = value }
            for continuation in state.continuations.values { continuation.yield(value) }
        }
    }

    func finish() {
        let continuations = subscribers.withLock { state in
            state.finished = true
            defer { state.continuations.removeAll() }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}
