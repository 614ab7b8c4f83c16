import Foundation

/// A value behind a pthread mutex (`NSLock`), with `Mutex`'s `withLock` shape: the one lock wrapper of the
/// package, for state shared between tasks and the threads of libmosquitto and the outbox's storage.
///
/// Used instead of `Synchronization.Mutex` because on Linux `Mutex` is a bare futex that ThreadSanitizer
/// cannot see: every access looked like a race and real ones would drown. A pthread mutex is understood by the
/// sanitizer and costs the same uncontended.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    @inline(__always)
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
