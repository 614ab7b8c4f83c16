import Foundation

/// A value behind a pthread mutex (NSLock). Used where work is handed between a task and the
/// storage thread: unlike `Synchronization.Mutex` (a futex on Linux), ThreadSanitizer sees the
/// ordering it creates, so a TSan run of the tests stays meaningful.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
