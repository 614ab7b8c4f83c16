import Synchronization

/// The pipeline shared by the ingest loop, the clock tick and the status reporter, behind a lock
/// (uncontended in steady state: one reading at a time takes it for a few hundred nanoseconds).
final class SharedPipeline: Sendable {
    private let mutex: Mutex<Pipeline>

    init(_ pipeline: sending Pipeline) {
        mutex = Mutex(pipeline)
    }

    func withLock<R: Sendable>(_ body: (inout sending Pipeline) -> sending R) -> R {
        mutex.withLock { body(&$0) }
    }
}
