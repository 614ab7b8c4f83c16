import CSQLite
import Foundation
import Logging

/// The outbox file's schema version (`outbox_meta('schema')`) and the migrations that bring an older
/// file up to date.
///
/// - Version 0: a file without a schema mark, written before the mark existed: `outbox_events`
///   (sequence, key, topic, payload, severity, created_at) without the `historical` and `size`
///   columns, and possibly no `outbox_meta` table at all.
/// - Version 1: the layout `createSchema` makes (the first release, 0.1.0).
///
/// On open, a file of an older version is migrated step by step, all steps in one transaction, so a
/// crash mid-way leaves the old file as it was. A file of a NEWER version (written by a later
/// release, found after a downgrade) is never touched: it is renamed aside intact, logged at
/// critical level and counted, and a new file takes over; the newer release can deliver its events.
///
/// To add version 2: append `Migration(from: 1, …)` to `migrations` and raise `current`.
enum OutboxSchema {
    static let current = 1

    struct Migration: Sendable {
        let from: Int
        let summary: String
        let apply: @Sendable (SQLiteConnection) throws -> Void
    }

    static let migrations: [Migration] = [
        Migration(from: 0, summary: "add outbox_meta, the historical and size columns, a database id", apply: migrateFrom0),
    ]

    /// The version of an existing file; nil for a new (empty) file.
    static func storedVersion(_ db: SQLiteConnection) throws -> Int? {
        let tables = Set(try db.text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        if tables.contains("outbox_meta"), let text = try db.text("SELECT value FROM outbox_meta WHERE name = 'schema'").first {
            guard let version = Int(text.trimmingCharacters(in: .whitespaces)), version >= 0 else {
                throw Storage.DamageError(reason: "unreadable schema version `\(text.prefix(40))`")
            }
            return version
        }
        return tables.contains("outbox_events") ? 0 : nil
    }

    static func migrateFrom0(_ db: SQLiteConnection) throws {
        let columns = Set(try db.text("SELECT name FROM pragma_table_info('outbox_events')"))
        for required in ["sequence", "topic", "payload", "created_at"] where !columns.contains(required) {
            throw Storage.DamageError(reason: "unexpected schema: outbox_events has no `\(required)` column")
        }
        try db.execute("CREATE TABLE IF NOT EXISTS outbox_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
        if !columns.contains("key") { try db.execute("ALTER TABLE outbox_events ADD COLUMN key TEXT") }
        if !columns.contains("severity") {
            try db.execute("ALTER TABLE outbox_events ADD COLUMN severity INTEGER NOT NULL DEFAULT 0")
        }
        // What was pending when the old release stopped is backlog now.
        if !columns.contains("historical") {
            try db.execute("ALTER TABLE outbox_events ADD COLUMN historical INTEGER NOT NULL DEFAULT 1")
        }
        if !columns.contains("size") {
            try db.execute("ALTER TABLE outbox_events ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
            try db.execute(
                """
                UPDATE outbox_events SET size = length(CAST(topic AS BLOB)) + length(CAST(payload AS BLOB))
                    + coalesce(length(CAST(key AS BLOB)), 0)
                """)
        }
        if try db.text("SELECT value FROM outbox_meta WHERE name = 'database_id'").isEmpty {
            let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
            try db.execute("INSERT INTO outbox_meta(name, value) VALUES ('database_id', '\(id)')")
        }
    }
}

/// A file written by a later release (after a downgrade): kept aside, not read.
struct NewerSchemaError: Error {
    let version: Int
}

extension Storage {
    /// Reads the schema version before anything writes to the file: a newer one is refused untouched
    /// (`NewerSchemaError`); an older one is migrated in one transaction. Returns the version found.
    @discardableResult
    func checkSchema(_ db: SQLiteConnection) throws -> Int? {
        guard let version = try OutboxSchema.storedVersion(db) else { return nil }
        if version > OutboxSchema.current { throw NewerSchemaError(version: version) }
        guard version < OutboxSchema.current else { return version }
        let steps = OutboxSchema.migrations.filter { $0.from >= version && $0.from < OutboxSchema.current }
            .sorted { $0.from < $1.from }
        guard steps.map(\.from) == Array(version..<OutboxSchema.current) else {
            throw DamageError(reason: "no migration from outbox schema \(version) to \(OutboxSchema.current)")
        }
        try db.execute("BEGIN IMMEDIATE")
        do {
            for step in steps { try step.apply(db) }
            try db.execute("INSERT OR REPLACE INTO outbox_meta(name, value) VALUES ('schema', '\(OutboxSchema.current)')")
            try db.execute("COMMIT")
        } catch let error as SQLiteError where [SQLITE_ERROR, SQLITE_CONSTRAINT, SQLITE_MISMATCH].contains(error.primary) {
            // The file's tables are not a shape any release wrote: not a file this outbox can read.
            try? db.execute("ROLLBACK")
            throw DamageError(reason: "migration from outbox schema \(version) failed: \(error.description)")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
        counters.schemaMigrations += 1
        logger.notice("Outbox database migrated to the current schema", metadata: [
            "path": "\(configuration.path)", "from": "\(version)", "to": "\(OutboxSchema.current)",
            "steps": "\(steps.map(\.summary).joined(separator: "; "))",
        ])
        return version
    }

    /// Renames a file of a newer schema aside, untouched, and says loudly what that means.
    func keepNewerAside(version: Int) throws(OutboxError) {
        let target = try renameAside(tag: "schema\(version)", reason: "written by a newer vigil (schema \(version))")
        counters.newerSchemaFilesMovedAside += 1
        logger.critical(
            """
            Outbox database was written by a newer vigil (schema \(version); this one reads up to \(OutboxSchema.current)), \
            probably before a downgrade. It is kept aside untouched and a new one is started: its events are not sent \
            by this version. Upgrade again and move it back to deliver them.
            """,
            metadata: ["path": "\(configuration.path)", "moved_to": "\(target)", "schema": "\(version)"])
    }
}
