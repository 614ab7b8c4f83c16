import Foundation
import Logging
import Outbox
import Testing

/// A full disk (SQLite's `max_page_count`, as `maxFileBytes` sets it): the outbox says it cannot
/// write, logs it a few times rather than once per event, and once it drains, its WAL is
/// checkpointed and truncated instead of growing into the room that came back.
@Suite struct DiskFullTests {
    @Test func aFullDiskIsReportedRateLimitedAndTheWALIsTruncatedAfterTheDrain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.fullPolicy = .dropNewest
        configuration.maxFileBytes = 64 * 1024
        let log = CapturedLog()
        let outbox = try await Outbox.open(configuration: configuration, logger: log.logger)
        let big = [UInt8](repeating: 0x5A, count: 1500)
        var dropped = 0
        for _ in 0..<200 {
            if case .dropped = try await outbox.enqueue(topic: "t", payload: big) { dropped += 1 }
        }
        #expect(dropped > 50)
        let full = await outbox.statistics()
        #expect(full.writeFailure?.contains("disk full") == true, "\(String(describing: full.writeFailure))")
        #expect(full.dropped[.diskFull] == UInt64(dropped))
        // One line per kind per 10 s, not one per dropped event.
        let warnings = log.messages(atLeast: .warning)
        #expect(warnings.count <= 4, "\(warnings.count) warning lines for \(dropped) drops")

        // Space returns (the queue drains): the WAL is checkpointed and truncated.
        _ = await drainAll(outbox)
        let wal = directory.database + "-wal"
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
        #expect(walBytes == 0, "the WAL holds \(walBytes) bytes after the drain")
        // The next write succeeds and clears the failure.
        #expect(try await outbox.enqueue(topic: "t", payload: big).sequence != nil)
        #expect(await outbox.statistics().writeFailure == nil)
        await outbox.close()
    }
}
