import Foundation

/// The payload of one captured MQTT message.
public enum RecordedPayload: Sendable, Equatable {
    /// The raw bytes as they crossed the wire.
    case bytes([UInt8])
    /// A JSON value stored inline in the recording.
    case json(JSONValue)
}

/// One item of a recording, in file order.
public enum RecordedItem: Sendable, Equatable {
    /// One cell of a wide CSV: column index (into `RecordingReader.columns`), time, value.
    case sample(column: Int, timestamp: Int64, value: Double)
    /// One captured message of a JSON-lines recording.
    case message(timestamp: Int64, topic: String, payload: RecordedPayload)

    public var timestamp: Int64 {
        switch self {
        case .sample(_, let t, _), .message(let t, _, _): t
        }
    }
}

/// A row or line of a recording that could not be used; it is skipped and reported.
public struct RecordingIssue: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

public enum RecordingFormat: String, Sendable, CaseIterable {
    case csv
    case jsonl

    /// From the file name: `.jsonl`/`.ndjson` is JSON lines, anything else CSV.
    public init(path: String) {
        let lower = path.lowercased()
        self = lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") ? .jsonl : .csv
    }
}

/// Reads a recorded log item by item: a wide CSV (timestamp + one column per sensor, as historians
/// export; `,`, `;` or tab separated, `1,5` decimal commas with `;` or tab), a long CSV
/// (`ts,sensor,value` rows), JSON lines (`{"ts","topic","payload"}`, as a broker capture), Telegraf
/// JSON (`{"name","tags","fields","timestamp"}`) or InfluxDB line protocol. The long, Telegraf and
/// line-protocol forms are read whole at open and served in time order; their columns are named
/// `tags.topic`, `tags.sensor` or `<measurement>.<field>` (see `Recording+Formats.swift`).
/// Bad rows are reported with their line number and skipped.
public final class RecordingReader {
    public let path: String
    public let format: RecordingFormat
    /// CSV: the value column names (without the timestamp column). JSONL: empty.
    public internal(set) var columns: [String] = []
    /// The first issues (at most `maximumStoredIssues`); `issueCount` counts them all.
    public private(set) var issues: [RecordingIssue] = []
    public private(set) var issueCount = 0
    public static let maximumStoredIssues = 100

    let bytes: [UInt8]
    var offset = 0
    var line = 0
    var pending: [RecordedItem] = []
    var pendingIndex = 0
    /// True when the whole file was read into `pending` at open (long CSV, Telegraf, line protocol).
    var preloaded = false
    // CSV
    var separator: UInt8 = UInt8(ascii: ",")
    var timestampColumn = 0
    var valueColumns: [Int] = []  // file column index of each value column
    /// The layout read (for messages): `wide CSV`, `long CSV`, `JSON lines`, `Telegraf JSON`, `line protocol`.
    public internal(set) var layout = "wide CSV"

    public var totalBytes: Int { bytes.count }
    public var bytesRead: Int { offset }

    /// Opens a recording. Throws when the file is missing, empty, or (CSV) has no usable header.
    public init(path: String, format: RecordingFormat? = nil, timestampColumn name: String? = nil) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TelemetryError(.unreadableFile, "\(path): cannot read the recording (missing or not readable)")
        }
        self.path = path
        self.bytes = [UInt8](data)
        self.format = format ?? RecordingFormat(path: path)
        if try preloadForeignLayout() { return }
        if self.format == .csv { try readHeader(timestampColumnName: name) } else { layout = "JSON lines" }
    }

    func report(_ message: String) {
        issueCount += 1
        if issues.count < Self.maximumStoredIssues { issues.append(RecordingIssue(line: line, message: message)) }
    }

    /// The next line without its terminator, or nil at the end.
    func nextLine() -> ArraySlice<UInt8>? {
        guard offset < bytes.count else { return nil }
        line += 1
        let start = offset
        var end = start
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        offset = min(end + 1, bytes.count)
        var stop = end
        if stop > start, bytes[stop - 1] == 0x0D { stop -= 1 }
        return bytes[start..<stop]
    }

    /// The next usable item, or nil at the end of the file.
    public func next() -> RecordedItem? {
        while true {
            if pendingIndex < pending.count {
                defer { pendingIndex += 1 }
                return pending[pendingIndex]
            }
            if preloaded { return nil }
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
            guard let text = nextLine() else { return nil }
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch format {
            case .csv: parseCSVRow(text)
            case .jsonl: parseJSONLine(text)
            }
        }
    }

    // MARK: CSV

    private func readHeader(timestampColumnName: String?) throws {
        guard var header = nextLine() else {
            throw TelemetryError(.invalidRecording, "\(path): the file is empty; expected a header row")
        }
        if header.starts(with: [0xEF, 0xBB, 0xBF]) { header = header.dropFirst(3) }
        let counts = [UInt8(ascii: ","), UInt8(ascii: ";"), 0x09].map { sep in (sep, header.filter { $0 == sep }.count) }
        separator = counts.max { $0.1 < $1.1 }.map(\.0) ?? UInt8(ascii: ",")
        let names = splitCSV(header).map { $0.trimmingCharacters(in: .whitespaces) }
        let known = ["timestamp", "time", "datetime", "ts", "date"]
        if let wanted = timestampColumnName {
            guard let i = names.firstIndex(of: wanted) else {
                throw TelemetryError(.invalidRecording,
                                     "\(path):1: no timestamp column `\(wanted)`; the columns are \(names.joined(separator: ", "))")
            }
            timestampColumn = i
        } else {
            timestampColumn = names.firstIndex { known.contains($0.lowercased()) } ?? 0
        }
        guard names.count >= 2 else {
            throw TelemetryError(.invalidRecording,
                                 "\(path):1: expected a header with a timestamp column and at least one value column")
        }
        valueColumns = names.indices.filter { $0 != timestampColumn }
        columns = valueColumns.map { names[$0] }
        if let long = Self.longLayout(names, timestampColumn: timestampColumn) {
            try preloadLongCSV(sensorColumn: long.sensor, valueColumn: long.value, fieldCount: names.count)
        }
    }

    func splitCSV(_ text: ArraySlice<UInt8>) -> [String] { DelimitedText.fields(text, separator: separator) }

    private func parseCSVRow(_ text: ArraySlice<UInt8>) {
        let fields = splitCSV(text)
        guard fields.count > timestampColumn, let timestamp = Self.timestamp(fields[timestampColumn]) else {
            report("cannot read the timestamp `\(fields.first?.prefix(40) ?? "")`; row skipped")
            return
        }
        if fields.count != valueColumns.count + 1 {
            report("expected \(valueColumns.count + 1) fields, found \(fields.count); row skipped")
            return
        }
        for (k, column) in valueColumns.enumerated() {
            let cell = fields[column].trimmingCharacters(in: .whitespaces)
            if cell.isEmpty { continue }
            guard let value = number(cell), value.isFinite else {
                report("column `\(columns[k])`: `\(cell.prefix(40))` is not a finite number; cell skipped")
                continue
            }
            pending.append(.sample(column: k, timestamp: timestamp, value: value))
        }
    }

    // MARK: JSON lines

    private func parseJSONLine(_ text: ArraySlice<UInt8>) {
        let json: JSONValue
        do {
            json = try text.withUnsafeBytes { try JSONValue.parse($0) }
        } catch {
            report("\(error); line skipped")
            return
        }
        guard case .object = json else { report("expected a JSON object; line skipped"); return }
        guard case .string(let topic)? = json["topic"], !topic.isEmpty else {
            report("missing `topic`; line skipped")
            return
        }
        let timestamp: Int64?
        switch json["ts"] {
        case .number(let n)?: timestamp = Timestamp.fromEpochNumber(n)
        case .string(let s)?: timestamp = Timestamp.parse(s)
        default: timestamp = nil
        }
        guard let timestamp else { report("missing or unreadable `ts`; line skipped"); return }
        if case .string(let encoded)? = json["payload_b64"] {
            guard let data = Data(base64Encoded: encoded) else { report("`payload_b64` is not base64; line skipped"); return }
            pending.append(.message(timestamp: timestamp, topic: topic, payload: .bytes([UInt8](data))))
            return
        }
        switch json["payload"] {
        case .string(let s)?: pending.append(.message(timestamp: timestamp, topic: topic, payload: .bytes(Array(s.utf8))))
        case let value?: pending.append(.message(timestamp: timestamp, topic: topic, payload: .json(value)))
        case nil: report("missing `payload`; line skipped")
        }
    }
}
