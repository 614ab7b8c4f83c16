import Foundation

/// A value behind a pthread mutex (via `NSLock`), with `Mutex`'s `withLock` shape.
///
/// Used instead of `Synchronization.Mutex` for state shared with libmosquitto's thread:
/// on Linux `Mutex` is built on raw futexes that ThreadSanitizer cannot see, so every
/// access looked like a race and real ones would drown; a pthread mutex is understood
/// by the sanitizer, and costs the same uncontended.
final class StateLock<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    @inline(__always)
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
