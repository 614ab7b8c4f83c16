import CSQLite
import Foundation
import Logging
import Outbox
import Testing

/// The outbox file's schema version across upgrades and downgrades, on real SQLite files.
@Suite("Schema versions")
struct SchemaTests {
    /// Runs SQL on a file with SQLite's own API, as another release (or a hand) would have written it.
    func sql(_ path: String, _ statements: String) throws {
        var db: OpaquePointer?
        defer { sqlite3_close(db) }
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw SQLFailure(text: "cannot open \(path)") }
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, statements, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "?"
            sqlite3_free(message)
            throw SQLFailure(text: text)
        }
    }

    func query(_ path: String, _ statement: String) throws -> [String] {
        var db: OpaquePointer?
        defer { sqlite3_close(db) }
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw SQLFailure(text: "cannot open \(path)") }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, statement, -1, &stmt, nil) == SQLITE_OK else { throw SQLFailure(text: statement) }
        defer { sqlite3_finalize(stmt) }
        var rows: [String] = []
        while sqlite3_step(stmt) == SQLITE_ROW {
            rows.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "NULL")
        }
        return rows
    }

    struct SQLFailure: Error { let text: String }

    @Test("A file of schema 1 is opened as it is, and says which schema it has")
    func currentSchemaIsMarked() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: Logger(label: "test.outbox"))
        _ = try await outbox.enqueue(topic: "t", payload: payload("one"))
        await outbox.close()
        #expect(try query(directory.database, "SELECT value FROM outbox_meta WHERE name = 'schema'") == ["1"])
        let reopened = try await Outbox.open(configuration: .test(directory.database), logger: Logger(label: "test.outbox"))
        let statistics = await reopened.statistics()
        #expect(statistics.schemaMigrations == 0 && statistics.newerSchemaFilesMovedAside == 0)
        #expect(statistics.depth == 1)
        await reopened.close()
    }

    @Test("A file without a schema mark (version 0) is migrated in place; its events are delivered")
    func legacyFileIsMigrated() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Version 0: no outbox_meta, no historical or size column.
        try sql(directory.database, """
            CREATE TABLE outbox_events(
                sequence INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, topic TEXT NOT NULL, payload BLOB NOT NULL,
                severity INTEGER NOT NULL, created_at INTEGER NOT NULL);
            INSERT INTO outbox_events(key, topic, payload, severity, created_at) VALUES
                ('k1', 'up/events', CAST('first' AS BLOB), 2, strftime('%s','now') * 1000),
                (NULL, 'up/events', CAST('second' AS BLOB), 1, strftime('%s','now') * 1000),
                ('k3', 'up/status', CAST('third' AS BLOB), -1, strftime('%s','now') * 1000);
            """)
        let log = CapturedLog()
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        let statistics = await outbox.statistics()
        #expect(statistics.schemaMigrations == 1)
        #expect(statistics.corruptFilesMovedAside == 0 && statistics.newerSchemaFilesMovedAside == 0)
        #expect(statistics.depth == 3)
        #expect(statistics.historicalDepth == 3)
        // Sizes computed from the stored bytes: topic + key + payload.
        #expect(statistics.bytes == (9 + 2 + 5) + (9 + 6) + (9 + 2 + 5))
        #expect(log.messages(atLeast: .notice).contains { $0.contains("migrated") && $0.contains("from=0") })
        // New events continue after the old ones; everything goes out in order, flagged historical.
        let next = try await outbox.enqueue(topic: "up/events", payload: payload("fourth"))
        #expect((next.sequence ?? 0) > 3)
        let received = await drainAll(outbox)
        #expect(received.map(\.payload) == ["first", "second", "third", "fourth"].map(payload))
        #expect(received.prefix(3).allSatisfy { $0.historical })
        #expect(received.first?.key == "k1")
        await outbox.close()
        #expect(try query(directory.database, "SELECT value FROM outbox_meta WHERE name = 'schema'") == ["1"])
        #expect(try query(directory.database, "SELECT count(*) FROM outbox_meta WHERE name = 'database_id'") == ["1"])
        // Migrated once: the next open finds schema 1.
        let reopened = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        #expect(await reopened.statistics().schemaMigrations == 0)
        await reopened.close()
        #expect(directory.files() == ["outbox.db"])
    }

    @Test("A file of a newer schema (after a downgrade) is kept aside intact, loudly; a new one takes over")
    func newerSchemaIsKeptAside() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: Logger(label: "test.outbox"))
        for n in 0..<5 { _ = try await outbox.enqueue(topic: "t", payload: payload("newer \(n)")) }
        await outbox.close()
        // A later release raised the schema (and added a table of its own).
        try sql(directory.database, """
            UPDATE outbox_meta SET value = '2' WHERE name = 'schema';
            CREATE TABLE outbox_receipts(sequence INTEGER PRIMARY KEY, at INTEGER);
            """)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.database))

        let log = CapturedLog()
        let downgraded = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        let statistics = await downgraded.statistics()
        #expect(statistics.newerSchemaFilesMovedAside == 1)
        #expect(statistics.corruptFilesMovedAside == 0)
        #expect(statistics.schemaMigrations == 0)
        #expect(statistics.depth == 0)
        #expect(log.messages(atLeast: .critical).contains { $0.contains("newer vigil") && $0.contains("schema=2") })
        let kept = directory.files().filter { $0.hasPrefix("outbox.db.schema2-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(kept.count == 1)
        if let name = kept.first {
            let path = "\(directory.path)/\(name)"
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the newer file was modified")
            #expect(try query(path, "SELECT count(*) FROM outbox_events") == ["5"])
            #expect(try query(path, "SELECT value FROM outbox_meta WHERE name = 'schema'") == ["2"])
        }
        // The downgraded agent carries on with a new file, and a restart does not move it again.
        #expect(try await downgraded.enqueue(topic: "t", payload: payload("after")).sequence != nil)
        await downgraded.close()
        let reopened = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        #expect(await reopened.statistics().newerSchemaFilesMovedAside == 0)
        #expect(await drainAll(reopened).map(\.payload) == [payload("after")])
        await reopened.close()
    }

    @Test("An unreadable schema mark is damage: moved aside as corrupt")
    func unreadableSchemaMark() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: Logger(label: "test.outbox"))
        await outbox.close()
        try sql(directory.database, "UPDATE outbox_meta SET value = 'two' WHERE name = 'schema';")
        let log = CapturedLog()
        let reopened = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        #expect(await reopened.statistics().corruptFilesMovedAside == 1)
        #expect(log.messages(atLeast: .critical).contains { $0.contains("unreadable schema version") })
        await reopened.close()
    }
}
