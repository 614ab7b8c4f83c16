import CSQLite
import Foundation
import Logging
import Outbox
import Testing

enum Damage: String, CaseIterable, Sendable {
    case garbage, badHeader, truncated, damagedPage
}

@Suite("Damaged database files")
struct DamageTests {
    /// A database with enough events to span many pages, closed cleanly (WAL checkpointed).
    func makeDatabase(_ path: String) async throws {
        let outbox = try await Outbox.open(configuration: .test(path), logger: Logger(label: "test.outbox"))
        for n in 0..<300 {
            try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: UInt8(n % 251), count: 200))
        }
        await outbox.close()
    }

    func damage(_ path: String, _ kind: Damage) throws {
        let url = URL(fileURLWithPath: path)
        var bytes = try [UInt8](Data(contentsOf: url))
        var generator = SystemRandomNumberGenerator()
        switch kind {
        case .garbage:
            bytes = (0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }
        case .badHeader:
            for i in 0..<16 { bytes[i] = UInt8(ascii: "X") }
        case .truncated:
            bytes = Array(bytes.prefix(bytes.count / 3 + 1000))
        case .damagedPage:
            // Keep the header page; scribble over several pages of the table.
            let start = 4096 * 3
            for i in start..<min(start + 4096 * 4, bytes.count) { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        }
        try Data(bytes).write(to: url)
    }

    @Test("A damaged file is moved aside, counted and logged; a new one takes over", arguments: Damage.allCases)
    func movedAside(kind: Damage) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        if kind == .garbage {
            _ = FileManager.default.createFile(atPath: directory.database, contents: Data())
        } else {
            try await makeDatabase(directory.database)
        }
        try damage(directory.database, kind)
        let damaged = try Data(contentsOf: URL(fileURLWithPath: directory.database))

        let log = CapturedLog()
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        let statistics = await outbox.statistics()
        #expect(statistics.corruptFilesMovedAside == 1)
        #expect(statistics.depth == 0)
        let moved = directory.files().filter { $0.hasPrefix("outbox.db.corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(moved.count == 1)
        if let name = moved.first {
            // Kept byte for byte for a post-mortem.
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/\(name)")) == damaged)
        }
        let loud = log.messages(atLeast: .critical)
        #expect(loud.contains { $0.contains("damaged") && $0.contains("moved_to") })

        // The new file works, and a restart does not move it again (no crash loop).
        let result = try await outbox.enqueue(topic: "t", payload: payload("after"))
        #expect(result.sequence != nil)
        await outbox.close()
        let reopened = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        #expect(await reopened.statistics().corruptFilesMovedAside == 0)
        #expect(await reopened.statistics().depth == 1)
        let received = await drainAll(reopened)
        #expect(received.map(\.payload) == [payload("after")])
        await reopened.close()
        #expect(directory.files().filter { $0.hasPrefix("outbox.db.corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }.count == 1)
    }

    @Test("Damage found while running: moved aside, stored events counted as dropped, carries on")
    func damageWhileRunning() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = CapturedLog()
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        // More than SQLite's page cache holds, so reading them back goes to the file.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<200 { try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: 1, count: 4000)) }
                }
            }
            try await group.waitForAll()
        }
        let stored = await outbox.statistics().depth
        // Scribble over the middle of the main file behind SQLite's back.
        let handle = try #require(FileHandle(forUpdatingAtPath: directory.database))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 4)
        handle.write(Data((0..<Int(size / 2)).map { _ in UInt8.random(in: 0...255) }))
        try handle.close()

        let received = await drainAll(outbox)
        let statistics = await outbox.statistics()
        #expect(statistics.corruptFilesMovedAside == 1)
        #expect(UInt64(received.count) + (statistics.dropped[.corruptDatabase] ?? 0) >= UInt64(stored))
        #expect(statistics.dropped[.corruptDatabase] ?? 0 > 0)
        #expect(log.messages(atLeast: .critical).contains { $0.contains("damaged") })
        #expect(try await outbox.enqueue(topic: "t", payload: payload("after")).sequence != nil)
        #expect(await drainAll(outbox).map(\.payload) == [payload("after")])
        await outbox.close()
    }

    @Test("A database whose outbox table has other columns is moved aside, not misread")
    func foreignSchema() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var db: OpaquePointer?
        #expect(sqlite3_open(directory.database, &db) == SQLITE_OK)
        #expect(sqlite3_exec(db, "CREATE TABLE outbox_events(x TEXT); INSERT INTO outbox_events VALUES ('theirs');", nil, nil, nil) == SQLITE_OK)
        sqlite3_close(db)

        let log = CapturedLog()
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: log.logger)
        #expect(await outbox.statistics().corruptFilesMovedAside == 1)
        #expect(log.messages(atLeast: .critical).contains { $0.contains("unexpected schema") })
        #expect(try await outbox.enqueue(topic: "t", payload: payload("ours")).sequence != nil)
        await outbox.close()
    }

    @Test("A -wal file left behind by a killed process is recovered, not lost")
    func walLeftBehind() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: Logger(label: "test.outbox"))
        var stored: [UInt64] = []
        for n in 0..<50 { stored.append(try #require(try await outbox.enqueue(topic: "t", payload: payload("\(n)")).sequence)) }
        // Snapshot the files while the database is open, as kill -9 would leave them.
        let copy = try TemporaryDirectory()
        defer { copy.remove() }
        for extra in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: directory.database + extra, toPath: copy.database + extra)
        }
        #expect(FileManager.default.fileExists(atPath: copy.database + "-wal"))
        await outbox.close()

        let recovered = try await Outbox.open(configuration: .test(copy.database), logger: Logger(label: "test.outbox"))
        #expect(await recovered.statistics().corruptFilesMovedAside == 0)
        #expect(await recovered.statistics().depth == 50)
        let received = await drainAll(recovered)
        #expect(received.map(\.sequence) == stored)
        await recovered.close()
    }
}
