import CSQLite
import Foundation
import Logging
import VigilSupport

/// Opening, checking, and moving a damaged file aside.
extension Storage {
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
            } catch let newer as NewerSchemaError {
                lastDamage = "schema \(newer.version) from a newer vigil"
                try keepNewerAside(version: newer.version)
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

    struct DamageError: Error { let reason: String }

    func openChecked() throws {
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
            // Also before any write: a file of a newer schema is kept aside untouched; an older one is migrated.
            try checkSchema(db)
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

    func createSchema(_ db: SQLiteConnection) throws {
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
                try db.execute("INSERT INTO outbox_meta(name, value) VALUES ('schema', '\(OutboxSchema.current)')")
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

    func prepareStatements(_ db: SQLiteConnection) throws -> Statements {
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

    func loadState(_ db: SQLiteConnection) throws {
        rows = Int(try db.int64("SELECT count(*) FROM outbox_events") ?? 0)
        bytes = Int(try db.int64("SELECT total(size) FROM outbox_events") ?? 0)
        historicalRows = Int(try db.int64("SELECT count(*) FROM outbox_events WHERE historical = 1") ?? 0)
        lastSequence = try db.int64("SELECT seq FROM sqlite_sequence WHERE name = 'outbox_events'") ?? 0
    }

    func closeConnection() {
        statements = nil
        connection?.close()
        connection = nil
    }

    /// Renames the file (and its -wal and -shm) with a UTC timestamp suffix, loudly.
    func moveAside(reason: String) throws(OutboxError) {
        let path = configuration.path
        let target = try renameAside(tag: "corrupt", reason: "damaged (\(reason))")
        counters.corruptFilesMovedAside += 1
        logger.critical(
            "Outbox database is damaged; moved aside and starting a new one. Events stored in it are not sent.",
            metadata: ["path": "\(path)", "moved_to": "\(target)", "reason": "\(reason)"])
    }

    /// Closes the connection and renames the file (and its -wal and -shm) `<path>.<tag>-<UTC time>`.
    func renameAside(tag: String, reason: String) throws(OutboxError) -> String {
        closeConnection()
        let path = configuration.path
        let target = AsidePath.next(for: path, tag: tag)
        for extra in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + extra) {
            if rename(path + extra, target + extra) != 0 {
                let text = String(cString: strerror(errno))
                throw .cannotOpen(path: path, reason: "\(reason) and cannot be moved aside: \(text)")
            }
        }
        return target
    }

    /// A damaged page found while running: count what was stored as dropped, move aside, go on.
    func recoverFromDamage(_ error: SQLiteError) {
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

    func database() throws -> (SQLiteConnection, Statements) {
        guard !closed else { throw OutboxError.closed }
        guard let connection, let statements else {
            throw OutboxError.storage("no database is open at \(configuration.path)")
        }
        return (connection, statements)
    }

    /// Converts an error of a job, recovering first when it shows damage.
    func handle(_ error: any Error) -> any Error {
        if let error = error as? SQLiteError {
            if error.isDamage { recoverFromDamage(error) }
            return OutboxError.storage(error.description)
        }
        return error
    }
}
