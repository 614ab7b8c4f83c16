import Foundation

/// The layouts users export that are not Vigil's own: decimal commas, long (tidy) CSV, Telegraf
/// JSON and InfluxDB line protocol. Each is read whole at open, sorted by time (stable), and
/// served as `.sample` items of named columns, so replay maps columns to sensors as for a wide CSV.
extension RecordingReader {
    // MARK: cells

    /// A cell's number: `1.5`, or with a `;` or tab separator also the decimal comma `1,5`.
    func number(_ cell: String) -> Double? {
        if let v = Double(cell) { return v }
        guard separator != UInt8(ascii: ","), !cell.contains("."),
              cell.utf8.count(where: { $0 == UInt8(ascii: ",") }) == 1 else { return nil }
        return Double(cell.replacingOccurrences(of: ",", with: "."))
    }

    /// A timestamp cell: what `Timestamp.parse` reads, and `DD.MM.YYYY[ HH:MM[:SS[,fff]]]` (UTC) as
    /// European spreadsheets write it.
    static func timestamp(_ cell: String) -> Int64? {
        if let t = Timestamp.parse(cell) { return t }
        let b = Array(cell.trimmingCharacters(in: .whitespaces).utf8)
        guard b.count >= 10, b[2] == UInt8(ascii: "."), b[5] == UInt8(ascii: ".") else {
            // An epoch with a decimal comma.
            return Double(cell.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "."))
                .flatMap(Timestamp.fromEpochNumber)
        }
        let text = String(decoding: b, as: UTF8.self)
        let day = text.prefix(2), month = text.dropFirst(3).prefix(2), year = text.dropFirst(6).prefix(4)
        var rest = String(text.dropFirst(10)).replacingOccurrences(of: ",", with: ".")
        if rest.hasPrefix(" ") { rest = "T" + rest.dropFirst() }
        if rest.count == 6 { rest += ":00" }  // THH:MM
        return Timestamp.parse("\(year)-\(month)-\(day)\(rest.isEmpty ? "" : rest + "Z")")
            ?? Timestamp.parse("\(year)-\(month)-\(day)")
    }

    /// An epoch number in seconds, milliseconds, microseconds or nanoseconds (by magnitude).
    static func epochMillis(_ n: Double) -> Int64? {
        guard n.isFinite, n >= 0 else { return nil }
        if n < 1e11 { return Int64((n * 1000).rounded()) }
        if n < 1e14 { return Int64(n.rounded()) }
        if n < 1e17 { return Int64((n / 1000).rounded()) }
        return Int64((n / 1_000_000).rounded())
    }

    // MARK: preloaded layouts

    /// Collects items into named columns, then serves them in time order.
    struct Collector {
        var columns: [String] = []
        var index: [String: Int] = [:]
        var items: [RecordedItem] = []

        mutating func add(_ column: String, _ timestamp: Int64, _ value: Double) {
            let k: Int
            if let known = index[column] {
                k = known
            } else {
                k = columns.count
                columns.append(column)
                index[column] = k
            }
            items.append(.sample(column: k, timestamp: timestamp, value: value))
        }
    }

    func finish(_ collector: Collector, layout: String) {
        var items = collector.items
        // Stable: equal timestamps keep file order.
        let sorted = items.indices.sorted { (items[$0].timestamp, $0) < (items[$1].timestamp, $1) }
        items = sorted.map { items[$0] }
        columns = collector.columns
        pending = items
        pendingIndex = 0
        preloaded = true
        self.layout = layout
    }

    /// The first non-blank line, without consuming it.
    func peekFirstLine() -> ArraySlice<UInt8>? {
        let (savedOffset, savedLine) = (offset, line)
        defer { (offset, line) = (savedOffset, savedLine) }
        while let text = nextLine() {
            if !text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return text }
        }
        return nil
    }

    /// Reads a Telegraf JSON or line-protocol file whole; false when the file is neither.
    func preloadForeignLayout() throws -> Bool {
        guard var first = peekFirstLine() else { return false }
        if first.starts(with: [0xEF, 0xBB, 0xBF]) { first = first.dropFirst(3) }
        if format == .jsonl {
            guard let json = try? first.withUnsafeBytes({ try JSONValue.parse($0) }), Self.isTelegraf(json) else { return false }
            preloadTelegraf()
            return true
        }
        let lower = path.lowercased()
        let named = [".lp", ".line", ".influx", ".lineprotocol"].contains { lower.hasSuffix($0) }
        guard named || Self.looksLikeLineProtocol(first) else { return false }
        preloadLineProtocol()
        return true
    }

    /// The column a metric's field becomes: its `topic` or `sensor` tag for a single-value metric,
    /// else `<measurement>.<field>`.
    static func columnName(measurement: String, tags: [String: String], field: String, fieldCount: Int) -> String {
        if field == "value" || fieldCount == 1 {
            for tag in ["topic", "sensor", "sensor_id", "tag", "id"] {
                if let v = tags[tag], !v.isEmpty { return v }
            }
        }
        return measurement.isEmpty ? field : "\(measurement).\(field)"
    }

    // MARK: long CSV

    static let sensorHeaders: Set<String> = ["sensor", "sensor_id", "sensorid", "id", "name", "tag", "tagname", "topic", "series", "signal", "metric", "channel", "point"]
    static let valueHeaders: Set<String> = ["value", "val", "reading", "measurement", "v"]

    /// A long layout: a timestamp, a sensor and a value column (other columns, e.g. a unit, ignored).
    static func longLayout(_ names: [String], timestampColumn: Int) -> (sensor: Int, value: Int)? {
        let lower = names.map { $0.lowercased() }
        guard let value = lower.indices.first(where: { $0 != timestampColumn && valueHeaders.contains(lower[$0]) }),
              let sensor = lower.indices.first(where: { $0 != timestampColumn && $0 != value && sensorHeaders.contains(lower[$0]) })
        else { return nil }
        return (sensor, value)
    }

    func preloadLongCSV(sensorColumn: Int, valueColumn: Int, fieldCount: Int) throws {
        var collector = Collector()
        while let text = nextLine() {
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let fields = splitCSV(text)
            guard fields.count == fieldCount else {
                report("expected \(fieldCount) fields, found \(fields.count); row skipped")
                continue
            }
            guard let t = Self.timestamp(fields[timestampColumn]) else {
                report("cannot read the timestamp `\(fields[timestampColumn].prefix(40))`; row skipped")
                continue
            }
            let sensor = fields[sensorColumn].trimmingCharacters(in: .whitespaces)
            let cell = fields[valueColumn].trimmingCharacters(in: .whitespaces)
            if cell.isEmpty { continue }
            guard !sensor.isEmpty, let v = number(cell), v.isFinite else {
                report("`\(cell.prefix(40))` of `\(sensor.prefix(40))` is not a finite number; row skipped")
                continue
            }
            collector.add(sensor, t, v)
        }
        finish(collector, layout: "long CSV")
    }

    // MARK: Telegraf JSON

    static func isTelegraf(_ json: JSONValue) -> Bool {
        guard case .object? = json["fields"], json["timestamp"] != nil, json["topic"] == nil else { return false }
        return true
    }

    func preloadTelegraf() {
        var collector = Collector()
        while let text = nextLine() {
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard let json = try? text.withUnsafeBytes({ try JSONValue.parse($0) }), Self.isTelegraf(json),
                  case .object(let fields)? = json["fields"]
            else { report("not a Telegraf JSON metric ({\"name\",\"tags\",\"fields\",\"timestamp\"}); line skipped"); continue }
            guard case .number(let n)? = json["timestamp"], let t = Self.epochMillis(n) else {
                report("missing or unreadable `timestamp`; line skipped")
                continue
            }
            var tags: [String: String] = [:]
            if case .object(let members)? = json["tags"] {
                for (k, v) in members { if case .string(let s) = v { tags[k] = s } }
            }
            let measurement: String
            if case .string(let s)? = json["name"] { measurement = s } else { measurement = "" }
            for (field, value) in fields {
                let v: Double
                switch value {
                case .number(let n): v = n
                case .bool(let b): v = b ? 1 : 0
                default: continue  // strings are not readings
                }
                guard v.isFinite else { continue }
                collector.add(Self.columnName(measurement: measurement, tags: tags, field: field, fieldCount: fields.count), t, v)
            }
        }
        finish(collector, layout: "Telegraf JSON")
    }

    // MARK: InfluxDB line protocol

    /// Splits at `separator` outside double quotes, honouring backslash escapes.
    static func splitUnescaped(_ text: ArraySlice<UInt8>, at separator: UInt8) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var start = text.startIndex
        var quoted = false
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == UInt8(ascii: "\\") { i += 2; continue }
            if c == UInt8(ascii: "\"") { quoted.toggle() }
            if c == separator, !quoted {
                parts.append(text[start..<i])
                start = i + 1
            }
            i += 1
        }
        parts.append(text[start..<min(text.endIndex, max(start, text.endIndex))])
        return parts
    }

    static func unescape(_ text: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == UInt8(ascii: "\\"), i + 1 < text.endIndex { out.append(text[i + 1]); i += 2; continue }
            out.append(text[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `measurement[,tag=v...] field=v[,field=v...] [timestamp]`
    static func looksLikeLineProtocol(_ line: ArraySlice<UInt8>) -> Bool {
        let parts = splitUnescaped(line, at: 0x20).filter { !$0.isEmpty }
        guard parts.count == 2 || parts.count == 3 else { return false }
        guard parts[1].contains(UInt8(ascii: "=")), let head = splitUnescaped(parts[0], at: UInt8(ascii: ",")).first,
              !head.isEmpty, !head.contains(UInt8(ascii: "="))
        else { return false }
        if parts.count == 3 { return parts[2].allSatisfy { (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") } }
        return true
    }

    func preloadLineProtocol() {
        var collector = Collector()
        while let text = nextLine() {
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) || text.first == UInt8(ascii: "#") { continue }
            let parts = Self.splitUnescaped(text, at: 0x20).filter { !$0.isEmpty }
            guard parts.count == 2 || parts.count == 3 else {
                report("not InfluxDB line protocol (`measurement,tags fields timestamp`); line skipped")
                continue
            }
            guard parts.count == 3, let n = Double(String(decoding: parts[2], as: UTF8.self)), let t = Self.epochMillis(n) else {
                report("no timestamp (a recording needs one on every line); line skipped")
                continue
            }
            let head = Self.splitUnescaped(parts[0], at: UInt8(ascii: ","))
            let measurement = Self.unescape(head[0])
            var tags: [String: String] = [:]
            for tag in head.dropFirst() {
                let kv = Self.splitUnescaped(tag, at: UInt8(ascii: "="))
                if kv.count == 2 { tags[Self.unescape(kv[0])] = Self.unescape(kv[1]) }
            }
            let fields = Self.splitUnescaped(parts[1], at: UInt8(ascii: ","))
            for field in fields {
                let kv = Self.splitUnescaped(field, at: UInt8(ascii: "="))
                guard kv.count == 2 else { report("field `\(Self.unescape(field).prefix(40))` is not key=value; skipped"); continue }
                var raw = String(decoding: kv[1], as: UTF8.self)
                if raw.hasPrefix("\"") { continue }  // a string field is not a reading
                let value: Double?
                switch raw {
                case "t", "T", "true", "True", "TRUE": value = 1
                case "f", "F", "false", "False", "FALSE": value = 0
                default:
                    if raw.hasSuffix("i") || raw.hasSuffix("u") { raw.removeLast() }
                    value = Double(raw)
                }
                guard let value, value.isFinite else {
                    report("field `\(Self.unescape(kv[0]))`: `\(raw.prefix(40))` is not a finite number; skipped")
                    continue
                }
                collector.add(Self.columnName(measurement: measurement, tags: tags, field: Self.unescape(kv[0]), fieldCount: fields.count), t, value)
            }
        }
        finish(collector, layout: "line protocol")
    }
}

extension RecordingReader {
    /// The error for a recording that gave no reading at all: a replay that exits 0 having read
    /// nothing would look like a clean plant.
    public func noReadingsError(rejected: String = "") -> TelemetryError {
        let first = issues.first.map { "; first: \($0)" } ?? ""
        let skipped = issueCount > 0 ? "\(issueCount) rows, lines or cells could not be read\(first)" : "nothing could be used"
        let refused = rejected.isEmpty ? "" : "; refused: \(rejected)"
        return TelemetryError(.invalidRecording, """
            \(path): no readings (read as \(layout)): \(skipped)\(refused). Vigil reads wide CSV (timestamp + one \
            column per sensor; `,`, `;` or tab; decimal commas with `;` or tab), long CSV (ts,sensor,value), \
            JSON-lines captures ({"ts","topic","payload"}), Telegraf JSON and InfluxDB line protocol
            """)
    }

    /// The error for a recording none of whose columns names a catalog sensor.
    public func noMatchingColumnsError() -> TelemetryError {
        let shown = columns.prefix(8).map { "`\($0)`" }.joined(separator: ", ")
        return TelemetryError(.invalidRecording,
                              "\(path): no column matches a sensor of the catalog (by id, topic or name); the recording (\(layout)) has \(columns.count) columns: \(shown)\(columns.count > 8 ? ", ..." : "")")
    }
}
