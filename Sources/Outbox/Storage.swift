import CSQLite
import Foundation
import Logging
import Synchronization

/// The database side of the outbox. Everything below `thread` runs on that one thread only
/// (hence `@unchecked Sendable`): the connection, its statements, the cached counters and the
/// link state that decides the `historical` flag, so every decision is serialised with the writes.
final class Storage: @unchecked Sendable {
    let configuration: OutboxConfiguration
    let logger: Logger
    let thread: StorageThread

    /// Requests waiting for the next group commit (guarded: appended from any task).
    private let incoming = Mutex<(requests: [EnqueueRequest], flushQueued: Bool)>(([], false))

    // MARK: Thread-confined state

    private var connection: SQLiteConnection?
    private var statements: Statements?
    private var databaseID = ""
    private var rows = 0
    private var bytes = 0
    private var historicalRows = 0
    private var lastSequence: Int64 = 0
    private var linkUp = false
    private var blocked: [EnqueueRequest] = []
    private var lastPrune: Int64?
    private var counters = Counters()
    private var closed = false

    struct Counters {
        var enqueued: UInt64 = 0
        var sent: UInt64 = 0
        var sendFailures: UInt64 = 0
        var dropped: [OutboxDropReason: UInt64] = [:]
        var corruptFilesMovedAside: UInt64 = 0
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

    private var maxAgeMilliseconds: Int64 {
        let (seconds, attoseconds) = configuration.maxAge.components
        guard seconds < Int64.max / 4000 else { return Int64.max / 4 }
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Events created before this are expired.
    private func cutoff(_ now: Int64) -> Int64 { saturatingDifference(now, maxAgeMilliseconds) }

    // MARK: Opening, damage, moving aside

    /// Opens the file, moving a damaged one aside (up to twice) and starting a new one.
    func open() throws(OutboxError) {
        var lastDamage = ""
        for _ in 0..<3 {
            do {
                try openChecked()
                return
            } catch let damage as DamageError {
                lastDamage = damage.reason
                try moveAside(reason: damage.reason)
            } catch let error as SQLiteError {
                closeConnection()
                throw .cannotOpen(path: configuration.path, reason: error.description)
            } catch let error as OutboxError {
                closeConnection()
                throw error
            } catch {
                closeConnection()
                throw .cannotOpen(path: configuration.path, reason: "\(error)")
            }
        }
        throw .cannotOpen(path: configuration.path, reason: "still damaged after moving aside: \(lastDamage)")
    }

    private struct DamageError: Error { let reason: String }

    private func openChecked() throws {
        let path = configuration.path
        let db: SQLiteConnection
        do {
            db = try SQLiteConnection(path: path)
        } catch let error as SQLiteError where error.isDamage {
            throw DamageError(reason: error.description)
        }
        connection = db
        do {
            try db.execute("PRAGMA busy_timeout = 5000")
            // Check before anything writes to the file, so a damaged one is moved aside untouched.
            let check = try db.text("PRAGMA quick_check")
            guard check == ["ok"] else {
                throw DamageError(reason: "quick_check: " + check.prefix(3).joined(separator: "; "))
            }
            // Let a drained file give its free pages back. Takes effect only on a new file, and
            // only when set before the switch to WAL.
            try db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            // WAL, and an fsync of the log at every commit: a commit that returned survives power loss.
            let mode = try db.text("PRAGMA journal_mode = WAL").first ?? ""
            guard mode.lowercased() == "wal" else {
                // Not damage: the file system refuses WAL. Moving the file aside would not help.
                throw OutboxError.cannotOpen(path: path, reason: "WAL journal not available (journal_mode is \(mode))")
            }
            try db.execute("PRAGMA synchronous = FULL")
            // Keep the log from staying large after a burst.
            try db.execute("PRAGMA journal_size_limit = \(8 * 1024 * 1024)")
            if let maxFileBytes = configuration.maxFileBytes {
                let pageSize = try db.int64("PRAGMA page_size") ?? 4096
                try db.execute("PRAGMA max_page_count = \(max(Int64(maxFileBytes) / pageSize, 16))")
            }
            do {
                try createSchema(db)
                statements = try prepareStatements(db)
            } catch let error as SQLiteError where error.primary == SQLITE_ERROR {
                // Our tables exist with other columns: not a file this outbox can read.
                throw DamageError(reason: "unexpected schema: \(error.message)")
            }
            try loadState(db)
        } catch let error as SQLiteError where error.isDamage {
            closeConnection()
            throw DamageError(reason: error.description)
        } catch {
            closeConnection()
            throw error
        }
    }

    private func createSchema(_ db: SQLiteConnection) throws {
        try db.execute(
            """
            BEGIN IMMEDIATE;
            CREATE TABLE IF NOT EXISTS outbox_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS outbox_events(
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                key TEXT,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL,
                severity INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                historical INTEGER NOT NULL,
                size INTEGER NOT NULL
            );
            """)
        do {
            if configuration.fullPolicy == .dropOldestLowestSeverity {
                try db.execute("CREATE INDEX IF NOT EXISTS outbox_events_by_severity ON outbox_events(severity, sequence)")
            } else {
                try db.execute("DROP INDEX IF EXISTS outbox_events_by_severity")
            }
            let existing = try db.text("SELECT value FROM outbox_meta WHERE name = 'database_id'")
            if let id = existing.first {
                databaseID = id
            } else {
                // A new file: a random identity for default keys, and a first sequence number taken
                // from the clock so that a file recreated after damage continues above the old one.
                databaseID = String(UInt64.random(in: 1...UInt64.max), radix: 16)
                try db.execute("INSERT INTO outbox_meta(name, value) VALUES ('database_id', '\(databaseID)')")
                try db.execute("INSERT INTO outbox_meta(name, value) VALUES ('schema', '1')")
                let seed = min(max(configuration.now(), 0), Int64.max / 2000) * 1000
                try db.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox_events'")
                try db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox_events', \(seed))")
            }
            // After a restart nothing pending was delivered live: it is backlog now.
            try db.execute("UPDATE outbox_events SET historical = 1 WHERE historical = 0")
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    private func prepareStatements(_ db: SQLiteConnection) throws -> Statements {
        let victim =
            configuration.fullPolicy == .dropOldestLowestSeverity
            ? "SELECT sequence, severity FROM outbox_events ORDER BY severity, sequence LIMIT 1"
            : "SELECT sequence, severity FROM outbox_events ORDER BY sequence LIMIT 1"
        return Statements(
            insert: try db.prepare(
                """
                INSERT INTO outbox_events(key, topic, payload, severity, created_at, historical, size)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """),
            deleteOne: try db.prepare("DELETE FROM outbox_events WHERE sequence = ?1 RETURNING historical, size"),
            lowest: try db.prepare(victim),
            range: try db.prepare(
                """
                SELECT sequence, key, topic, payload, severity, created_at, historical FROM outbox_events
                WHERE sequence > ?1 AND sequence <= ?2 AND created_at >= ?3 ORDER BY sequence LIMIT ?4
                """),
            prune: try db.prepare("DELETE FROM outbox_events WHERE created_at < ?1 RETURNING historical, size"),
            oldest: try db.prepare("SELECT created_at FROM outbox_events ORDER BY sequence LIMIT 1"),
            markHistorical: try db.prepare("UPDATE outbox_events SET historical = 1 WHERE historical = 0"),
            begin: try db.prepare("BEGIN IMMEDIATE"),
            commit: try db.prepare("COMMIT"),
            rollback: try db.prepare("ROLLBACK")
        )
    }

    private func loadState(_ db: SQLiteConnection) throws {
        rows = Int(try db.int64("SELECT count(*) FROM outbox_events") ?? 0)
        bytes = Int(try db.int64("SELECT total(size) FROM outbox_events") ?? 0)
        historicalRows = Int(try db.int64("SELECT count(*) FROM outbox_events WHERE historical = 1") ?? 0)
        lastSequence = try db.int64("SELECT seq FROM sqlite_sequence WHERE name = 'outbox_events'") ?? 0
    }

    private func closeConnection() {
        statements = nil
        connection?.close()
        connection = nil
    }

    /// Renames the file (and its -wal and -shm) with a UTC timestamp suffix, loudly.
    private func moveAside(reason: String) throws(OutboxError) {
        closeConnection()
        let path = configuration.path
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        var target = "\(path).corrupt-\(formatter.string(from: Date()))"
        var suffix = 1
        while FileManager.default.fileExists(atPath: target) {
            suffix += 1
            target = "\(path).corrupt-\(formatter.string(from: Date()))-\(suffix)"
        }
        for extra in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + extra) {
            if rename(path + extra, target + extra) != 0 {
                let text = String(cString: strerror(errno))
                throw .cannotOpen(path: path, reason: "damaged (\(reason)) and cannot be moved aside: \(text)")
            }
        }
        counters.corruptFilesMovedAside += 1
        logger.critical(
            "Outbox database is damaged; moved aside and starting a new one. Events stored in it are not sent.",
            metadata: ["path": "\(path)", "moved_to": "\(target)", "reason": "\(reason)"])
    }

    /// A damaged page found while running: count what was stored as dropped, move aside, go on.
    private func recoverFromDamage(_ error: SQLiteError) {
        if let connection, connection.inTransaction { try? connection.execute("ROLLBACK") }
        counters.dropped[.corruptDatabase, default: 0] += UInt64(rows)
        rows = 0
        bytes = 0
        historicalRows = 0
        do {
            try moveAside(reason: error.description)
            try open()
        } catch {
            logger.critical("Outbox cannot recover from a damaged database", metadata: ["error": "\(error)"])
        }
    }

    private func database() throws -> (SQLiteConnection, Statements) {
        guard !closed else { throw OutboxError.closed }
        guard let connection, let statements else {
            throw OutboxError.storage("no database is open at \(configuration.path)")
        }
        return (connection, statements)
    }

    /// Converts an error of a job, recovering first when it shows damage.
    private func handle(_ error: any Error) -> any Error {
        if let error = error as? SQLiteError {
            if error.isDamage { recoverFromDamage(error) }
            return OutboxError.storage(error.description)
        }
        return error
    }

    // MARK: Enqueue with group commit

    /// Queues a request for the next group commit; its caller is resumed after the commit.
    func submit(_ request: EnqueueRequest) {
        let schedule = incoming.withLock { state -> Bool in
            state.requests.append(request)
            defer { state.flushQueued = true }
            return !state.flushQueued
        }
        if schedule { thread.submit { self.flush() } }
    }

    private func flush() {
        let batch = incoming.withLock { state -> [EnqueueRequest] in
            state.flushQueued = false
            defer { state.requests.removeAll() }
            return state.requests
        }
        let waiting = blocked
        blocked = []
        store(waiting + batch)
    }

    /// Retries blocked requests after room was freed.
    private func retryBlocked() {
        guard !blocked.isEmpty else { return }
        let waiting = blocked
        blocked = []
        store(waiting)
    }

    /// A cancelled blocked request leaves the queue.
    func sweepCancelled() {
        thread.submit {
            let (cancelled, kept) = (self.blocked.filter(\.isCancelled), self.blocked.filter { !$0.isCancelled })
            self.blocked = kept
            for request in cancelled { request.finish(.failure(CancellationError())) }
        }
    }

    private enum Decision { case fits, drop(OutboxDropReason), block }

    /// Stores requests in one transaction; falls back to one at a time when the disk is full.
    private func store(_ requests: [EnqueueRequest]) {
        guard !requests.isEmpty else { return }
        do {
            let outcomes = try storeTransaction(requests, diskFull: false)
            for (request, result) in outcomes { request.finish(result) }
        } catch let error as SQLiteError where error.isFull {
            for (index, request) in requests.enumerated() {
                if configuration.fullPolicy == .block && !blocked.isEmpty {
                    blocked.append(contentsOf: requests[index...])
                    return
                }
                storeOneWhenFull(request)
            }
        } catch let error as SQLiteError where error.isDamage {
            // Damage found while writing: move the file aside, then store on the new one.
            recoverFromDamage(error)
            do {
                let outcomes = try storeTransaction(requests, diskFull: false)
                for (request, result) in outcomes { request.finish(result) }
            } catch {
                let converted = handle(error)
                for request in requests { request.finish(.failure(converted)) }
            }
        } catch {
            let converted = handle(error)
            for request in requests { request.finish(.failure(converted)) }
        }
    }

    /// The disk is full: make room by the policy, a few times, then give up on this event.
    private func storeOneWhenFull(_ request: EnqueueRequest) {
        var victims = 1
        for _ in 0..<8 {
            do {
                let outcomes = try storeTransaction([request], diskFull: false)
                for (request, result) in outcomes { request.finish(result) }
                return
            } catch let error as SQLiteError where error.isFull {
                switch configuration.fullPolicy {
                case .dropNewest:
                    drop(request, .diskFull)
                    return
                case .block:
                    blocked.append(request)
                    return
                case .dropOldestLowestSeverity:
                    guard (try? deleteLowest(count: victims, notAbove: request.severity, reason: .diskFull)) == true else {
                        drop(request, .diskFull)
                        return
                    }
                    victims *= 2
                }
            } catch {
                request.finish(.failure(handle(error)))
                return
            }
        }
        drop(request, .diskFull)
    }

    private func drop(_ request: EnqueueRequest, _ reason: OutboxDropReason) {
        counters.dropped[reason, default: 0] += 1
        logger.warning("Outbox dropped a new event", metadata: ["reason": "\(reason.rawValue)", "topic": "\(request.topic)"])
        request.finish(.success(.dropped(reason)))
    }

    /// Deletes up to `count` of the lowest-severity oldest events (in their own transaction).
    private func deleteLowest(count: Int, notAbove severity: Int, reason: OutboxDropReason) throws -> Bool {
        let (db, statements) = try database()
        let saved = (rows, bytes, historicalRows, counters)
        var deleted = 0
        do {
            try statements.begin.run()
            for _ in 0..<count {
                guard try deleteVictim(statements, notAbove: severity, reason: reason) else { break }
                deleted += 1
            }
            try statements.commit.run()
        } catch {
            if db.inTransaction { try? statements.rollback.run() }
            (rows, bytes, historicalRows, counters) = saved
            throw error
        }
        return deleted > 0
    }

    /// Deletes the next victim if its severity is not above `severity`. False when none.
    private func deleteVictim(_ statements: Statements, notAbove severity: Int, reason: OutboxDropReason) throws -> Bool {
        defer { statements.lowest.reset() }
        guard try statements.lowest.step() else { return false }
        let sequence = statements.lowest.int64(0)
        let victimSeverity = Int(statements.lowest.int64(1))
        statements.lowest.reset()
        guard configuration.fullPolicy != .dropOldestLowestSeverity || victimSeverity <= severity else { return false }
        guard try deleteRow(statements, sequence) else { return false }
        counters.dropped[reason, default: 0] += 1
        logger.warning("Outbox dropped a stored event", metadata: ["reason": "\(reason.rawValue)", "sequence": "\(sequence)"])
        return true
    }

    /// Deletes one row and keeps the counters. False when it was not there.
    private func deleteRow(_ statements: Statements, _ sequence: Int64) throws -> Bool {
        let statement = statements.deleteOne
        defer { statement.reset() }
        statement.bind(1, sequence)
        guard try statement.step() else { return false }
        let wasHistorical = statement.int64(0) != 0
        let size = Int(statement.int64(1))
        while try statement.step() {}
        rows -= 1
        bytes -= size
        if wasHistorical { historicalRows -= 1 }
        return true
    }

    private func storeTransaction(
        _ requests: [EnqueueRequest], diskFull: Bool
    ) throws -> [(EnqueueRequest, Result<OutboxEnqueueResult, any Error>)] {
        let (db, statements) = try database()
        let saved = (rows, bytes, historicalRows, lastSequence, counters)
        var outcomes: [(EnqueueRequest, Result<OutboxEnqueueResult, any Error>)] = []
        var newlyBlocked: [EnqueueRequest] = []
        let now = configuration.now()
        do {
            try statements.begin.run()
            try pruneIfDue(statements, now: now, force: false)
            for request in requests {
                // Only waiting for room is cancellable; an event that fits is committed.
                if !newlyBlocked.isEmpty {
                    if request.isCancelled {
                        outcomes.append((request, .failure(CancellationError())))
                    } else {
                        newlyBlocked.append(request)
                    }
                    continue
                }
                switch try decide(request, statements, now: now) {
                case .block:
                    if request.isCancelled {
                        outcomes.append((request, .failure(CancellationError())))
                    } else {
                        newlyBlocked.append(request)
                    }
                case .drop(let reason):
                    counters.dropped[reason, default: 0] += 1
                    outcomes.append((request, .success(.dropped(reason))))
                case .fits:
                    let historical =
                        !linkUp || (!configuration.liveFirst && historicalRows > 0)
                    let insert = statements.insert
                    if let key = request.key { insert.bind(1, key) }
                    insert.bind(2, request.topic)
                    insert.bind(3, request.payload)
                    insert.bind(4, Int64(request.severity))
                    insert.bind(5, request.createdAt)
                    insert.bind(6, historical ? 1 : 0)
                    insert.bind(7, Int64(request.size))
                    try insert.run()
                    let sequence = db.lastInsertRowID
                    lastSequence = sequence
                    rows += 1
                    bytes += request.size
                    if historical { historicalRows += 1 }
                    counters.enqueued += 1
                    outcomes.append((request, .success(.stored(sequence: UInt64(sequence), historical: historical))))
                }
            }
            try statements.commit.run()
        } catch {
            if db.inTransaction { try? statements.rollback.run() }
            (rows, bytes, historicalRows, lastSequence, counters) = saved
            throw error
        }
        for outcome in outcomes {
            if case .success(.dropped(let reason)) = outcome.1 {
                logger.warning("Outbox dropped a new event", metadata: ["reason": "\(reason.rawValue)", "topic": "\(outcome.0.topic)"])
            }
        }
        blocked.append(contentsOf: newlyBlocked)
        return outcomes
    }

    /// Applies the bounds to one new event, deleting victims inside the open transaction.
    private func decide(_ request: EnqueueRequest, _ statements: Statements, now: Int64) throws -> Decision {
        let size = request.size
        if size > configuration.maxBytes { return .drop(.tooLarge) }
        if request.createdAt < cutoff(now) { return .drop(.maxAge) }
        while true {
            let overRows = rows + 1 > configuration.maxRows
            let overBytes = bytes + size > configuration.maxBytes
            guard overRows || overBytes else { return .fits }
            let reason: OutboxDropReason = overRows ? .maxRows : .maxBytes
            switch configuration.fullPolicy {
            case .dropNewest: return .drop(reason)
            case .block: return .block
            case .dropOldestLowestSeverity:
                guard try deleteVictim(statements, notAbove: request.severity, reason: reason) else {
                    return .drop(reason)
                }
            }
        }
    }

    /// Whether expired events should be looked for: at most every tenth of `maxAge`, and at
    /// least every second.
    private func pruneDue(now: Int64) -> Bool {
        let interval = min(max(maxAgeMilliseconds / 10, 1), 1000)
        guard let lastPrune, now >= lastPrune else { return true }
        return now &- lastPrune >= interval
    }

    /// Drops expired events when due (or when forced).
    private func pruneIfDue(_ statements: Statements, now: Int64, force: Bool) throws {
        guard force || pruneDue(now: now) else { return }
        lastPrune = now
        let statement = statements.prune
        defer { statement.reset() }
        statement.bind(1, cutoff(now))
        var count = 0
        while try statement.step() {
            if statement.int64(0) != 0 { historicalRows -= 1 }
            bytes -= Int(statement.int64(1))
            rows -= 1
            count += 1
        }
        if count > 0 {
            counters.dropped[.maxAge, default: 0] += UInt64(count)
            logger.warning("Outbox dropped expired events", metadata: ["reason": "max_age", "count": "\(count)"])
        }
    }

    // MARK: Draining (called by the drainer through `thread.run`)

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

    // MARK: Statistics and closing

    func statistics() async -> OutboxStatistics {
        (try? await thread.run { self.snapshot() }) ?? OutboxStatistics.empty
    }

    private func snapshot() -> OutboxStatistics {
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
            corruptFilesMovedAside: counters.corruptFilesMovedAside)
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
