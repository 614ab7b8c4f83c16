import Foundation

/// A value behind a pthread mutex (NSLock), for the state shared between tasks and the storage
/// thread. Unlike `Synchronization.Mutex` (a bare futex on Linux), ThreadSanitizer sees the
/// ordering it creates, so a TSan run of the tests reports only real races.
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
