import Foundation

/// One dedicated OS thread that runs jobs in submission order.
///
/// Every blocking SQLite call (`sqlite3_step`, commits and their fsyncs) runs here, never on
/// Swift's cooperative pool, so a slow disk cannot starve the rest of the agent.
final class StorageThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []  // guarded by `condition`
    private var stopping = false  // guarded by `condition`
    private var finished = false  // guarded by `condition`

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    /// Serialises jobs submitted after the thread ended (they only find the store closed).
    private let lateJobs = NSLock()

    /// Queues a job; it runs after every job queued before it. After `stop`, the job runs at once
    /// on the caller's thread, one at a time.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        if stopping {
            while !finished { condition.wait() }
            condition.unlock()
            lateJobs.lock()
            job()
            lateJobs.unlock()
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `work` on the thread and returns its result to the caller.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Lets the queued jobs finish, then ends the thread. Does not wait.
    func requestStop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job() }
        }
    }
}
