/// Why an event was dropped without being delivered.
public enum OutboxDropReason: String, Sendable, CaseIterable, Codable, Hashable {
    /// The row limit was reached.
    case maxRows = "max_rows"
    /// The byte limit was reached.
    case maxBytes = "max_bytes"
    /// The event was older than `maxAge`.
    case maxAge = "max_age"
    /// SQLite reported SQLITE_FULL (disk or `maxFileBytes`).
    case diskFull = "disk_full"
    /// The event alone is larger than `maxBytes`.
    case tooLarge = "too_large"
    /// The events stored in a database file found damaged while running (moved aside).
    case corruptDatabase = "corrupt_database"
}

/// A snapshot of the outbox for metrics and status. Counters count since the outbox was opened.
public struct OutboxStatistics: Sendable, Equatable {
    /// Events stored and not yet acknowledged.
    public var depth: Int
    /// Their bytes (topic + key + payload).
    public var bytes: Int
    /// `createdAt` of the oldest stored event, in ms since 1970; nil when empty.
    public var oldestCreatedAt: Int64?
    /// Age of the oldest stored event, in ms; nil when empty.
    public var oldestAgeMilliseconds: Int64?
    /// Of `depth`, the events flagged historical.
    public var historicalDepth: Int
    /// The next sequence number the outbox will assign.
    public var nextSequence: UInt64
    /// Whether the link is up and a drainer runs.
    public var linkUp: Bool
    /// Events committed (durably stored).
    public var enqueued: UInt64
    /// Events whose delivery was acknowledged.
    public var sent: UInt64
    /// Sends or acknowledgements that failed (each is retried).
    public var sendFailures: UInt64
    /// Enqueue calls waiting for room under `.block`.
    public var blockedEnqueues: Int
    /// Dropped events by reason. Every reason is present, zero when none.
    public var dropped: [OutboxDropReason: UInt64]
    /// Damaged database files renamed aside and replaced by a new one.
    public var corruptFilesMovedAside: UInt64
    /// Files of a newer schema (a later release, before a downgrade) renamed aside intact.
    public var newerSchemaFilesMovedAside: UInt64 = 0
    /// Files of an older schema migrated on open.
    public var schemaMigrations: UInt64 = 0
    /// Why the last write failed (e.g. the disk is full); nil when the last commit succeeded.
    /// While set, new events may be dropped (counted in `dropped`): the agent is degraded.
    public var writeFailure: String? = nil

    /// All drops, whatever the reason.
    public var droppedTotal: UInt64 { dropped.values.reduce(0, +) }
}
