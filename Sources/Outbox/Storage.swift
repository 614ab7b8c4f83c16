import CSQLite
import Foundation
import Logging
import VigilSupport

/// The database side of the outbox. Everything below `thread` runs on that one thread only
/// (hence `@unchecked Sendable`): the connection, its statements, the cached counters and the
/// link state that decides the `historical` flag, so every decision is serialised with the writes.
final class Storage: @unchecked Sendable {
    let configuration: OutboxConfiguration
    let logger: Logger
    let thread: StorageThread

    /// Requests waiting for the next group commit (guarded: appended from any task).
    let incoming = Locked<(requests: [EnqueueRequest], flushQueued: Bool)>(([], false))

    // MARK: Thread-confined state

    var connection: SQLiteConnection?
    var statements: Statements?
    var databaseID = ""
    var rows = 0
    var bytes = 0
    var historicalRows = 0
    var lastSequence: Int64 = 0
    var linkUp = false
    var blocked: [EnqueueRequest] = []
    var lastPrune: Int64?
    var counters = Counters()
    var closed = false
    /// Why the last write failed (disk full, I/O error); nil once a commit succeeds again.
    var writeFailure: String?
    /// Deletes since the WAL was last checkpointed and truncated.
    var deletesSinceCheckpoint = 0
    /// Rate-limited warnings: per kind, when the last line was written and how many were held back.
    var warnings: [String: (at: ContinuousClock.Instant, suppressed: Int)] = [:]

    struct Counters {
        var enqueued: UInt64 = 0
        var sent: UInt64 = 0
        var sendFailures: UInt64 = 0
        var dropped: [OutboxDropReason: UInt64] = [:]
        var corruptFilesMovedAside: UInt64 = 0
        var newerSchemaFilesMovedAside: UInt64 = 0
        var schemaMigrations: UInt64 = 0
    }

    /// Prepared statements of one connection.
    struct Statements {
        let insert: SQLiteStatement
        let deleteOne: SQLiteStatement
        let lowest: SQLiteStatement
        let range: SQLiteStatement
        let prune: SQLiteStatement
        let oldest: SQLiteStatement
        let markHistorical: SQLiteStatement
        let begin: SQLiteStatement
        let commit: SQLiteStatement
        let rollback: SQLiteStatement
    }

    init(configuration: OutboxConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.thread = StorageThread(name: "vigil-outbox-sqlite")
    }

    var maxAgeMilliseconds: Int64 {
        let (seconds, attoseconds) = configuration.maxAge.components
        guard seconds < Int64.max / 4000 else { return Int64.max / 4 }
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Events created before this are expired.
    func cutoff(_ now: Int64) -> Int64 { saturatingDifference(now, maxAgeMilliseconds) }
}

extension OutboxStatistics {
    static let empty = OutboxStatistics(
        depth: 0, bytes: 0, oldestCreatedAt: nil, oldestAgeMilliseconds: nil, historicalDepth: 0, nextSequence: 0,
        linkUp: false, enqueued: 0, sent: 0, sendFailures: 0, blockedEnqueues: 0,
        dropped: Dictionary(uniqueKeysWithValues: OutboxDropReason.allCases.map { ($0, 0) }),
        corruptFilesMovedAside: 0)
}

/// `a - b`, clamped to Int64's range (times can come from outside).
func saturatingDifference(_ a: Int64, _ b: Int64) -> Int64 {
    let (value, overflow) = a.subtractingReportingOverflow(b)
    guard overflow else { return value }
    return b > 0 ? .min : .max
}
