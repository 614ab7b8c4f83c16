import Foundation
import Logging

/// Throughput figures of the outbox on the disk under `directory`, for `vigil bench outbox`.
public enum OutboxBenchmark {
    public struct Figures: Sendable, CustomStringConvertible {
        /// Durable enqueues per second, one producer awaiting each commit (medians).
        public var sequentialEnqueuePerSecond: Double
        /// Durable enqueues per second with `producers` concurrent producers (group commit).
        public var concurrentEnqueuePerSecond: Double
        /// Events per second drained to a transport that acknowledges at once.
        public var drainPerSecond: Double
        /// Seconds to drain a backlog of `backlogEvents`.
        public var backlogDrainSeconds: Double
        public var backlogEvents: Int
        public var producers: Int
        public var payloadBytes: Int
        public var repetitions: Int

        public var description: String {
            func f(_ x: Double) -> String { String(format: "%.1f", x) }
            return """
                outbox benchmark (medians of \(repetitions) runs, payload \(payloadBytes) B)
                  durable enqueue, 1 producer:   \(f(sequentialEnqueuePerSecond)) events/s
                  durable enqueue, \(producers) producers: \(f(concurrentEnqueuePerSecond)) events/s
                  drain to acking transport:     \(f(drainPerSecond)) events/s
                  drain backlog of \(backlogEvents):     \(String(format: "%.2f", backlogDrainSeconds)) s
                """
        }
    }

    /// Runs each measurement `repetitions` times on fresh files in `directory` (which must exist)
    /// and returns the medians. Files are removed afterwards.
    public static func run(
        directory: String, sequentialEvents: Int = 500, concurrentEvents: Int = 5000, producers: Int = 16,
        backlogEvents: Int = 100_000, payloadBytes: Int = 256, repetitions: Int = 3,
        logger: Logger = Logger(label: "vigil.outbox.bench")
    ) async throws -> Figures {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: max(payloadBytes, 2))
        var sequential: [Double] = []
        var concurrent: [Double] = []
        var drain: [Double] = []
        var backlog: [Double] = []
        let clock = ContinuousClock()
        for repetition in 0..<max(repetitions, 1) {
            let path = "\(directory)/outbox-bench-\(getpid())-\(repetition).db"
            defer { for extra in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + extra) } }
            let outbox = try await Outbox.open(configuration: OutboxConfiguration(path: path), logger: logger)

            var start = clock.now
            for _ in 0..<sequentialEvents {
                try await outbox.enqueue(topic: "bench", payload: body)
            }
            sequential.append(Double(sequentialEvents) / seconds(clock.now - start))

            start = clock.now
            try await enqueueConcurrently(outbox, count: concurrentEvents, producers: producers, body: body)
            concurrent.append(Double(concurrentEvents) / seconds(clock.now - start))

            let missing = backlogEvents - (sequentialEvents + concurrentEvents)
            if missing > 0 {
                try await enqueueConcurrently(outbox, count: missing, producers: max(producers, 64), body: body)
            }
            let total = await outbox.statistics().depth
            let (states, link) = AsyncStream<Bool>.makeStream()
            let transport = OutboxClosureTransport { _ in }
            start = clock.now
            let runner = Task { await outbox.run(transport: transport, linkStates: states) }
            link.yield(true)
            while await outbox.statistics().depth > 0 {
                try await Task.sleep(for: .milliseconds(5))
            }
            let elapsed = seconds(clock.now - start)
            runner.cancel()
            await runner.value
            link.finish()
            await outbox.close()
            drain.append(Double(total) / elapsed)
            backlog.append(elapsed * Double(backlogEvents) / Double(max(total, 1)))
        }
        return Figures(
            sequentialEnqueuePerSecond: median(sequential), concurrentEnqueuePerSecond: median(concurrent),
            drainPerSecond: median(drain), backlogDrainSeconds: median(backlog), backlogEvents: backlogEvents,
            producers: producers, payloadBytes: body.count, repetitions: max(repetitions, 1))
    }

    private static func enqueueConcurrently(_ outbox: Outbox, count: Int, producers: Int, body: [UInt8]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                let share = count / producers + (producer < count % producers ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { try await outbox.enqueue(topic: "bench", payload: body) }
                }
            }
            try await group.waitForAll()
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
