import Foundation
import VigilSupport

/// Writes a wide CSV recording: `timestamp` (RFC 3339) then one column per sensor;
/// an empty cell means no reading of that sensor at that instant.
public final class CSVRecordingWriter {
    private let handle: FileHandle
    private let columns: [String]
    private var buffer: [UInt8] = []
    private var row: [Double?]
    private var rowTimestamp: Int64?
    private let decimals: [Int]

    /// `decimals[i]` is how many decimal places column i is written with.
    public init(path: String, columns: [String], decimals: [Int]? = nil) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw TelemetryError(.unreadableFile, "\(path): cannot create the file") }
        self.handle = handle
        self.columns = columns
        self.decimals = decimals ?? Array(repeating: 3, count: columns.count)
        self.row = Array(repeating: nil, count: columns.count)
        buffer.append(contentsOf: Array((["timestamp"] + columns).joined(separator: ",").utf8))
        buffer.append(0x0A)
    }

    /// Adds a value; values with the same timestamp share a row. Timestamps must not go backwards.
    public func write(column: Int, timestamp: Int64, value: Double) throws {
        if let t = rowTimestamp, t != timestamp { try flushRow() }
        rowTimestamp = timestamp
        row[column] = value
    }

    private func flushRow() throws {
        guard let t = rowTimestamp else { return }
        buffer.append(contentsOf: Array(Timestamp.rfc3339(t).utf8))
        for (i, value) in row.enumerated() {
            buffer.append(UInt8(ascii: ","))
            if let value { buffer.append(contentsOf: Array(formatNumber(value, decimals: decimals[i]).utf8)) }
        }
        buffer.append(0x0A)
        for i in row.indices { row[i] = nil }
        rowTimestamp = nil
        if buffer.count > 1 << 16 { try drain() }
    }

    private func drain() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        try flushRow()
        try drain()
        try handle.close()
    }
}

/// Writes a JSON-lines recording: `{"ts": <epoch ms>, "topic": "...", "payload": "..."}` per line.
/// Payloads that are not UTF-8 text are stored as `payload_b64`.
public final class JSONLRecordingWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    public private(set) var count = 0

    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw TelemetryError(.unreadableFile, "\(path): cannot create the file") }
        self.handle = handle
    }

    public func write(timestamp: Int64, topic: String, payload: [UInt8]) throws {
        var line = "{\"ts\":\(timestamp),\"topic\":\(JSONText.quoted(topic)),"
        if let text = String(validating: payload, as: UTF8.self) {
            line += "\"payload\":\(JSONText.quoted(text))}"
        } else {
            line += "\"payload_b64\":\"\(Data(payload).base64EncodedString())\"}"
        }
        buffer.append(contentsOf: Array(line.utf8))
        buffer.append(0x0A)
        count += 1
        if buffer.count > 1 << 16 { try flush() }
    }

    public func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        try flush()
        try handle.close()
    }
}

/// A number with a fixed number of decimals, without a trailing `.0…` run of zeros beyond need.
public func formatNumber(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    let scale = pow(10.0, Double(decimals))
    let rounded = (value * scale).rounded() / scale
    if decimals == 0 { return String(Int64(rounded)) }
    var text = String(format: "%.\(decimals)f", rounded)
    if text.hasPrefix("-"), Double(text) == 0 { text.removeFirst() }
    return text
}
