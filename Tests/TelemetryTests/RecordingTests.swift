import Foundation
import Testing
import Telemetry
import VigilTestSupport

@Suite struct RecordingTests {
    func write(_ text: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func readAll(_ reader: RecordingReader) -> [RecordedItem] {
        var items: [RecordedItem] = []
        while let item = reader.next() { items.append(item) }
        return items
    }

    @Test func wideCSVWithBadRowsReportedByLine() throws {
        let path = try write("""
            timestamp;a;b
            2026-03-02T06:00:00Z;1.5;2
            2026-03-02T06:00:01Z;;3
            not-a-time;1;1
            2026-03-02T06:00:03Z;x;4
            2026-03-02T06:00:04Z;1

            1772431205;7;8
            """, "r.csv")
        let reader = try RecordingReader(path: path)
        #expect(reader.columns == ["a", "b"])
        let items = readAll(reader)
        #expect(items.count == 6)
        #expect(items.first == .sample(column: 0, timestamp: 1_772_431_200_000, value: 1.5))
        #expect(items.last == .sample(column: 1, timestamp: 1_772_431_205_000, value: 8))
        #expect(reader.issueCount == 3)
        #expect(reader.issues.map(\.line) == [4, 5, 6])
    }

    @Test func jsonLinesWithBadLines() throws {
        let path = try write("""
            {"ts": 1772431200000, "topic": "t/a", "payload": "{\\"value\\": 1}"}
            {"ts": "2026-03-02T06:00:01Z", "topic": "t/b", "payload": {"value": 2}}
            {"ts": 1772431202000, "topic": "t/c", "payload_b64": "AAEC"}
            {"topic": "t/a", "payload": "1"}
            garbage
            {"ts": 1, "payload": "1"}
            """, "r.jsonl")
        let reader = try RecordingReader(path: path)
        let items = readAll(reader)
        #expect(items == [
            .message(timestamp: 1_772_431_200_000, topic: "t/a", payload: .bytes(Array(#"{"value": 1}"#.utf8))),
            .message(timestamp: 1_772_431_201_000, topic: "t/b", payload: .json(.object([("value", .number(2))]))),
            .message(timestamp: 1_772_431_202_000, topic: "t/c", payload: .bytes([0, 1, 2])),
        ])
        #expect(reader.issues.map(\.line) == [4, 5, 6])
    }

    @Test func writersRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let csv = dir.appendingPathComponent("x.csv").path
        let w = try CSVRecordingWriter(path: csv, columns: ["a", "b"], decimals: [2, 0])
        try w.write(column: 0, timestamp: 1000, value: 1.234)
        try w.write(column: 1, timestamp: 1000, value: 7.6)
        try w.write(column: 1, timestamp: 2000, value: -3)
        try w.close()
        let items = readAll(try RecordingReader(path: csv))
        #expect(items == [.sample(column: 0, timestamp: 1000, value: 1.23), .sample(column: 1, timestamp: 1000, value: 8),
                          .sample(column: 1, timestamp: 2000, value: -3)])

        let jsonl = dir.appendingPathComponent("x.jsonl").path
        let j = try JSONLRecordingWriter(path: jsonl)
        try j.write(timestamp: 1_772_431_200_005, topic: "t/\"q\"", payload: Array("{\"value\":1}".utf8))
        try j.write(timestamp: 1_772_431_200_006, topic: "bin", payload: [0xFF, 0x00])
        try j.close()
        #expect(readAll(try RecordingReader(path: jsonl)) == [
            .message(timestamp: 1_772_431_200_005, topic: "t/\"q\"", payload: .bytes(Array("{\"value\":1}".utf8))),
            .message(timestamp: 1_772_431_200_006, topic: "bin", payload: .bytes([0xFF, 0x00])),
        ])
    }

    @Test func missingOrEmptyFilesAreClearErrors() throws {
        #expect(throws: TelemetryError.self) { try RecordingReader(path: "/nonexistent/x.csv") }
        let empty = try write("", "e.csv")
        #expect(throws: TelemetryError.self) { try RecordingReader(path: empty) }
    }
}
