/// Sparkplug B (Eclipse Sparkplug 3.0) payloads: the protobuf `Payload` with its `Metric`s, read
/// with a small bounds-checked protobuf reader. Only what Vigil needs is kept: per metric its name or
/// alias, timestamp, data type and scalar value; datasets, templates, properties and metadata are
/// skipped. Any malformation is an error, never a crash.
public struct SparkplugPayload: Sendable, Equatable {
    public var timestamp: UInt64?
    public var seq: UInt64?
    public var metrics: [SparkplugMetric] = []

    /// Metrics read from one payload at most; a larger payload is refused.
    public static let maximumMetrics = 4096

    public init(timestamp: UInt64? = nil, seq: UInt64? = nil, metrics: [SparkplugMetric] = []) {
        self.timestamp = timestamp
        self.seq = seq
        self.metrics = metrics
    }
}

public struct SparkplugMetric: Sendable, Equatable {
    /// The scalar value as sent: which protobuf field carried it.
    public enum Value: Sendable, Equatable {
        case int(UInt32)
        case long(UInt64)
        case float(Float)
        case double(Double)
        case bool(Bool)
        /// A string, bytes, dataset, template or extension value: not a number.
        case other
    }

    public var name: String?
    public var alias: UInt64?
    /// Epoch milliseconds.
    public var timestamp: UInt64?
    public var datatype: UInt32?
    public var isNull = false
    public var value: Value?

    public init(name: String? = nil, alias: UInt64? = nil, timestamp: UInt64? = nil, datatype: UInt32? = nil,
                isNull: Bool = false, value: Value? = nil) {
        self.name = name
        self.alias = alias
        self.timestamp = timestamp
        self.datatype = datatype
        self.isNull = isNull
        self.value = value
    }

    /// The value as a number, read according to the metric's data type (Sparkplug encodes signed
    /// integers as two's complement in the unsigned fields). Nil for null, non-numeric or missing values.
    public var number: Double? {
        guard !isNull, let value else { return nil }
        switch (value, datatype ?? 0) {
        case (.int(let v), 1): return Double(Int8(truncatingIfNeeded: v))
        case (.int(let v), 2): return Double(Int16(truncatingIfNeeded: v))
        case (.int(let v), 3): return Double(Int32(bitPattern: v))
        case (.int(let v), 5): return Double(UInt8(truncatingIfNeeded: v))
        case (.int(let v), 6): return Double(UInt16(truncatingIfNeeded: v))
        case (.int(let v), _): return Double(v)
        case (.long(let v), 4): return Double(Int64(bitPattern: v))
        case (.long(let v), _): return Double(v)
        case (.float(let v), _): return Double(v)
        case (.double(let v), _): return v
        case (.bool(let v), _): return v ? 1 : 0
        case (.other, _): return nil
        }
    }
}

public struct SparkplugError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { "Sparkplug B payload: \(message)" }
}

extension SparkplugPayload {
    public static func decode(_ bytes: [UInt8]) throws(SparkplugError) -> SparkplugPayload {
        var reader = ProtobufReader(bytes: bytes, start: 0, end: bytes.count)
        var payload = SparkplugPayload()
        while let (field, wire) = try reader.nextKey() {
            switch (field, wire) {
            case (1, 0): payload.timestamp = try reader.varint()
            case (2, 2):
                guard payload.metrics.count < maximumMetrics else {
                    throw SparkplugError(message: "more than \(maximumMetrics) metrics")
                }
                var sub = try reader.nested()
                payload.metrics.append(try SparkplugMetric.decode(&sub))
            case (3, 0): payload.seq = try reader.varint()
            default: try reader.skip(wire)
            }
        }
        return payload
    }
}

extension SparkplugMetric {
    static func decode(_ reader: inout ProtobufReader) throws(SparkplugError) -> SparkplugMetric {
        var metric = SparkplugMetric()
        while let (field, wire) = try reader.nextKey() {
            switch (field, wire) {
            case (1, 2): metric.name = try reader.string()
            case (2, 0): metric.alias = try reader.varint()
            case (3, 0): metric.timestamp = try reader.varint()
            case (4, 0): metric.datatype = UInt32(truncatingIfNeeded: try reader.varint())
            case (7, 0): metric.isNull = try reader.varint() != 0
            case (10, 0): metric.value = .int(UInt32(truncatingIfNeeded: try reader.varint()))
            case (11, 0): metric.value = .long(try reader.varint())
            case (12, 5): metric.value = .float(Float(bitPattern: try reader.fixed32()))
            case (13, 1): metric.value = .double(Double(bitPattern: try reader.fixed64()))
            case (14, 0): metric.value = .bool(try reader.varint() != 0)
            case (15...19, 2):
                try reader.skip(wire)
                metric.value = .other
            default: try reader.skip(wire)
            }
        }
        return metric
    }
}

extension SparkplugPayload {
    /// Sparkplug B data type of a boolean metric.
    public static let booleanDatatype: UInt32 = 11

    /// The NCMD payload that asks an edge node for a new birth certificate: one metric
    /// `Node Control/Rebirth`, Boolean, true (Sparkplug 3.0, "Rebirth Request").
    public static func rebirthRequest(timestamp: UInt64) -> [UInt8] {
        var metric: [UInt8] = []
        ProtobufWriting.string(1, "Node Control/Rebirth", into: &metric)
        ProtobufWriting.varint(3, timestamp, into: &metric)
        ProtobufWriting.varint(4, UInt64(booleanDatatype), into: &metric)
        ProtobufWriting.varint(14, 1, into: &metric)
        var payload: [UInt8] = []
        ProtobufWriting.varint(1, timestamp, into: &payload)
        ProtobufWriting.bytes(2, metric, into: &payload)
        return payload
    }
}

/// The few protobuf fields Vigil writes (the rebirth request).
enum ProtobufWriting {
    static func rawVarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func varint(_ field: UInt64, _ value: UInt64, into out: inout [UInt8]) {
        rawVarint(field << 3, into: &out)
        rawVarint(value, into: &out)
    }

    static func bytes(_ field: UInt64, _ value: [UInt8], into out: inout [UInt8]) {
        rawVarint(field << 3 | 2, into: &out)
        rawVarint(UInt64(value.count), into: &out)
        out += value
    }

    static func string(_ field: UInt64, _ value: String, into out: inout [UInt8]) {
        bytes(field, Array(value.utf8), into: &out)
    }
}

/// Protobuf wire format over a byte range; every read checks the bounds.
struct ProtobufReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int

    init(bytes: [UInt8], start: Int, end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    /// The next field number and wire type; nil at the end of the range.
    mutating func nextKey() throws(SparkplugError) -> (UInt64, UInt8)? {
        guard position < end else { return nil }
        let key = try varint()
        let field = key >> 3
        guard field > 0 else { throw SparkplugError(message: "field number 0 at byte \(position)") }
        return (field, UInt8(key & 7))
    }

    mutating func varint() throws(SparkplugError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw SparkplugError(message: "truncated varint") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw SparkplugError(message: "varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func fixed32() throws(SparkplugError) -> UInt32 {
        guard end - position >= 4 else { throw SparkplugError(message: "truncated fixed32") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func fixed64() throws(SparkplugError) -> UInt64 {
        guard end - position >= 8 else { throw SparkplugError(message: "truncated fixed64") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    /// The range of a length-delimited field.
    mutating func lengthDelimited() throws(SparkplugError) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else { throw SparkplugError(message: "length \(length) past the end") }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func nested() throws(SparkplugError) -> ProtobufReader {
        let range = try lengthDelimited()
        return ProtobufReader(bytes: bytes, start: range.lowerBound, end: range.upperBound)
    }

    mutating func string() throws(SparkplugError) -> String {
        let range = try lengthDelimited()
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw SparkplugError(message: "a name that is not UTF-8")
        }
        return text
    }

    mutating func skip(_ wire: UInt8) throws(SparkplugError) {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw SparkplugError(message: "unsupported wire type \(wire)")
        }
    }
}

/// `spBv1.0/<group>/<type>/<edge node>[/<device>]`.
public struct SparkplugTopic: Sendable, Equatable {
    public var group: String
    public var messageType: String
    public var edgeNode: String
    public var device: String?

    public init?(_ topic: String) {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 || parts.count == 5, parts[0] == "spBv1.0",
              parts.dropFirst().allSatisfy({ !$0.isEmpty }) else { return nil }
        group = parts[1]
        messageType = parts[2]
        edgeNode = parts[3]
        device = parts.count == 5 ? parts[4] : nil
    }

    /// NDATA (an edge node's own metrics) or DDATA (a device's).
    public var isData: Bool { messageType == (device == nil ? "NDATA" : "DDATA") }
    public var isBirth: Bool { messageType == (device == nil ? "NBIRTH" : "DBIRTH") }

    public func with(messageType: String) -> String {
        ["spBv1.0", group, messageType, edgeNode, device].compactMap { $0 }.joined(separator: "/")
    }

    /// The birth topic that announces the metrics (and aliases) of this data topic.
    public var birthTopic: String { with(messageType: device == nil ? "NBIRTH" : "DBIRTH") }
    /// The data topic a birth topic announces.
    public var dataTopic: String { with(messageType: device == nil ? "NDATA" : "DDATA") }
}
