import CSQLite
import Foundation
import Logging

/// What the drainer asks of the database (through `thread.run`), statistics and closing.
extension Storage {
    /// Sets the link state. Going down turns every pending event into backlog. Returns the last
    /// sequence assigned, the boundary between backlog and live events of a new link-up.
    func setLink(up: Bool) async throws -> Int64 {
        try await thread.run {
            do {
                let (db, statements) = try self.database()
                self.linkUp = up
                if !up {
                    try statements.markHistorical.run()
                    self.historicalRows += db.changes
                }
                return self.lastSequence
            } catch {
                throw self.handle(error)
            }
        }
    }

    /// Up to `limit` pending, unexpired events with `after < sequence <= upTo`, in order.
    func fetch(after: Int64, upTo: Int64, limit: Int) async throws -> [OutboxMessage] {
        try await thread.run {
            do {
                let (_, statements) = try self.database()
                let now = self.configuration.now()
                let range = statements.range
                defer { range.reset() }
                range.bind(1, after)
                range.bind(2, upTo)
                range.bind(3, self.cutoff(now))
                range.bind(4, Int64(limit))
                var messages: [OutboxMessage] = []
                while try range.step() {
                    let sequence = range.int64(0)
                    messages.append(
                        OutboxMessage(
                            sequence: UInt64(sequence),
                            key: range.isNull(1) ? "\(self.databaseID)-\(sequence)" : range.text(1),
                            topic: range.text(2),
                            payload: range.blob(3),
                            severity: Int(range.int64(4)),
                            createdAt: range.int64(5),
                            historical: range.int64(6) != 0))
                }
                return messages
            } catch {
                throw self.handle(error)
            }
        }
    }

    /// Deletes acknowledged events in one transaction. This commit need not survive power loss
    /// (a lost delete means a resend, which the idempotency key absorbs), so it skips the fsync.
    func deleteAcknowledged(_ sequences: [UInt64], failures: UInt64) async throws {
        try await thread.run {
            self.counters.sendFailures += failures
            guard !sequences.isEmpty else { return }
            do {
                let (db, statements) = try self.database()
                try db.execute("PRAGMA synchronous = NORMAL")
                defer { try? db.execute("PRAGMA synchronous = FULL") }
                let saved = (self.rows, self.bytes, self.historicalRows, self.counters)
                do {
                    try statements.begin.run()
                    for sequence in sequences where try self.deleteRow(statements, Int64(sequence)) {
                        self.counters.sent += 1
                    }
                    try statements.commit.run()
                } catch {
                    if db.inTransaction { try? statements.rollback.run() }
                    (self.rows, self.bytes, self.historicalRows, self.counters) = saved
                    throw error
                }
                // Drained: hand a large set of free pages back to the file system.
                if self.rows == 0, (try db.int64("PRAGMA freelist_count") ?? 0) > 256 {
                    try db.execute("PRAGMA incremental_vacuum")
                }
                // Keep the WAL small: after a drain, and every 1000 deletes, checkpoint it into the
                // database and truncate it (after a full disk it would otherwise grow into the room
                // that came back). Busy or failing, it is tried again next time.
                self.deletesSinceCheckpoint += sequences.count
                if self.rows == 0 || self.deletesSinceCheckpoint >= 1000 {
                    self.checkpointWAL(db)
                }
                self.retryBlocked()
            } catch {
                throw self.handle(error)
            }
        }
    }

    /// Drops expired events now (the drainer calls this when idle).
    func prune() async throws {
        try await thread.run {
            do {
                let (db, statements) = try self.database()
                guard self.pruneDue(now: self.configuration.now()) else { return }
                let before = self.rows
                try statements.begin.run()
                do {
                    try self.pruneIfDue(statements, now: self.configuration.now(), force: false)
                    try statements.commit.run()
                } catch {
                    if db.inTransaction { try? statements.rollback.run() }
                    throw error
                }
                if self.rows < before { self.retryBlocked() }
            } catch {
                throw self.handle(error)
            }
        }
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`; a failure is logged (rate-limited) and retried later.
    func checkpointWAL(_ db: SQLiteConnection) {
        do {
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            deletesSinceCheckpoint = 0
        } catch {
            warnLimited("checkpoint", "Outbox could not checkpoint its WAL; retried after the next deliveries", ["error": "\(error)"])
        }
    }

    // MARK: Statistics and closing

    func statistics() async -> OutboxStatistics {
        (try? await thread.run { self.snapshot() }) ?? OutboxStatistics.empty
    }

    func snapshot() -> OutboxStatistics {
        var oldest: Int64?
        if let statements = statements {
            if (try? statements.oldest.step()) == true { oldest = statements.oldest.int64(0) }
            statements.oldest.reset()
        }
        var dropped: [OutboxDropReason: UInt64] = [:]
        for reason in OutboxDropReason.allCases { dropped[reason] = counters.dropped[reason, default: 0] }
        return OutboxStatistics(
            depth: rows,
            bytes: bytes,
            oldestCreatedAt: oldest,
            oldestAgeMilliseconds: oldest.map { max(saturatingDifference(configuration.now(), $0), 0) },
            historicalDepth: historicalRows,
            nextSequence: UInt64(lastSequence + 1),
            linkUp: linkUp,
            enqueued: counters.enqueued,
            sent: counters.sent,
            sendFailures: counters.sendFailures,
            blockedEnqueues: blocked.count,
            dropped: dropped,
            corruptFilesMovedAside: counters.corruptFilesMovedAside,
            newerSchemaFilesMovedAside: counters.newerSchemaFilesMovedAside,
            schemaMigrations: counters.schemaMigrations,
            writeFailure: writeFailure)
    }

    /// Closes without waiting (the owner went away without `close`).
    func closeDetached() {
        thread.submit {
            guard !self.closed else { return }
            self.closed = true
            for request in self.blocked { request.finish(.failure(OutboxError.closed)) }
            self.blocked = []
            self.closeConnection()
        }
        thread.requestStop()
    }

    /// Closes the database (checkpointing the WAL) and ends the thread. Blocked enqueues fail.
    func close() async {
        _ = try? await thread.run {
            guard !self.closed else { return }
            self.closed = true
            for request in self.blocked { request.finish(.failure(OutboxError.closed)) }
            self.blocked = []
            self.linkUp = false
            self.closeConnection()
        }
        // Requests that arrived after the close fail in the flush job queued for them.
        thread.requestStop()
    }
}
