/// A Sparkplug B payload (NDATA / DDATA, also NBIRTH / DBIRTH): the protobuf message
/// `org.eclipse.tahu.protobuf.Payload`, decoded by a small reader of its own.
///
/// Only what a reading needs is kept: the payload's timestamp and sequence number, and per metric
/// its name or alias, timestamp, datatype and scalar value. Data sets, templates, properties,
/// metadata and extensions are skipped. Hostile input (truncated fields, lengths past the end,
/// over-long varints, groups, too many metrics) throws `SparkplugError`; nothing traps.
///
/// ```swift
/// let payload = try SparkplugPayload(decoding: message.payload)
/// for metric in payload.metrics { if let v = metric.value?.doubleValue { ... } }
/// ```
public struct SparkplugPayload: Sendable, Equatable {
    /// Milliseconds since the epoch (UTC), when the payload was made.
    public var timestamp: UInt64?
    /// The edge node's sequence number (0...255).
    public var sequence: UInt64?
    public var metrics: [SparkplugMetric]

    public init(timestamp: UInt64? = nil, sequence: UInt64? = nil, metrics: [SparkplugMetric] = []) {
        self.timestamp = timestamp
        self.sequence = sequence
        self.metrics = metrics
    }

    /// Most metrics one payload may carry (a bound on the work and memory of a hostile message).
    public static let maximumMetrics = 65_536

    /// Decodes a protobuf-encoded Sparkplug B payload.
    public init(decoding bytes: [UInt8]) throws(SparkplugError) {
        self.init()
        var reader = ProtobufReader(bytes)
        while let (field, wire) = try reader.nextTag() {
            switch (field, wire) {
            case (1, .varint): timestamp = try reader.varint()
            case (2, .lengthDelimited):
                guard metrics.count < Self.maximumMetrics else {
                    throw SparkplugError(offset: reader.offset, reason: "more than \(Self.maximumMetrics) metrics")
                }
                let range = try reader.lengthDelimited()
                metrics.append(try SparkplugMetric(bytes, range: range))
            case (3, .varint): sequence = try reader.varint()
            default: try reader.skip(wire)
            }
        }
    }
}

/// One metric of a Sparkplug B payload.
public struct SparkplugMetric: Sendable, Equatable {
    /// The metric's name (NBIRTH/DBIRTH always; NDATA/DDATA may send only the alias).
    public var name: String?
    /// The alias the birth certificate assigned to the name.
    public var alias: UInt64?
    /// Milliseconds since the epoch (UTC); nil: the payload's timestamp applies.
    public var timestamp: UInt64?
    /// Sparkplug B datatype code (`SparkplugDataType` names the common ones).
    public var datatype: UInt32?
    public var isHistorical = false
    public var isNull = false
    /// The scalar value, already interpreted by `datatype` (signed types sign-extended); nil when
    /// null, absent, or of a kind this decoder skips (data set, template, bytes, extension).
    public var value: SparkplugValue?

    public init(name: String? = nil, alias: UInt64? = nil, timestamp: UInt64? = nil, datatype: UInt32? = nil,
                value: SparkplugValue? = nil) {
        self.name = name
        self.alias = alias
        self.timestamp = timestamp
        self.datatype = datatype
        self.value = value
    }

    init(_ bytes: [UInt8], range: Range<Int>) throws(SparkplugError) {
        var reader = ProtobufReader(bytes, range: range)
        var intValue: UInt32?
        var longValue: UInt64?
        var other: SparkplugValue?
        while let (field, wire) = try reader.nextTag() {
            switch (field, wire) {
            case (1, .lengthDelimited): name = try reader.string()
            case (2, .varint): alias = try reader.varint()
            case (3, .varint): timestamp = try reader.varint()
            case (4, .varint): datatype = UInt32(truncatingIfNeeded: try reader.varint())
            case (5, .varint): isHistorical = try reader.varint() != 0
            case (7, .varint): isNull = try reader.varint() != 0
            case (10, .varint): intValue = UInt32(truncatingIfNeeded: try reader.varint())
            case (11, .varint): longValue = try reader.varint()
            case (12, .fixed32): other = .float(Float(bitPattern: try reader.fixed32()))
            case (13, .fixed64): other = .double(Double(bitPattern: try reader.fixed64()))
            case (14, .varint): other = .bool(try reader.varint() != 0)
            case (15, .lengthDelimited): other = .string(try reader.string())
            default: try reader.skip(wire)
            }
        }
        guard !isNull else { return }
        if let intValue {
            value = Self.interpret(UInt64(intValue), width: 32, datatype: datatype)
        } else if let longValue {
            value = Self.interpret(longValue, width: 64, datatype: datatype)
        } else {
            value = other
        }
    }

    /// int_value / long_value carry signed types as two's complement of their own width.
    private static func interpret(_ raw: UInt64, width: Int, datatype: UInt32?) -> SparkplugValue {
        switch datatype.flatMap(SparkplugDataType.init(rawValue:)) {
        case .int8: return .int(Int64(Int8(truncatingIfNeeded: raw)))
        case .int16: return .int(Int64(Int16(truncatingIfNeeded: raw)))
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: raw)))
        case .int64: return .int(Int64(bitPattern: raw))
        case .boolean: return .bool(raw != 0)
        case .dateTime: return .uint(raw)
        default:
            // Unsigned types, and an unknown datatype (read as the field's unsigned value).
            return .uint(width == 32 ? raw & 0xFFFF_FFFF : raw)
        }
    }
}

/// A metric's scalar value.
public enum SparkplugValue: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case float(Float)
    case double(Double)
    case bool(Bool)
    case string(String)

    /// The value as a reading: numbers and booleans (1/0); nil for text.
    public var doubleValue: Double? {
        switch self {
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .float(let v): Double(v)
        case .double(let v): v
        case .bool(let v): v ? 1 : 0
        case .string: nil
        }
    }
}

/// Sparkplug B datatype codes of scalar metrics.
public enum SparkplugDataType: UInt32, Sendable {
    case int8 = 1, int16 = 2, int32 = 3, int64 = 4
    case uint8 = 5, uint16 = 6, uint32 = 7, uint64 = 8
    case float = 9, double = 10, boolean = 11, string = 12, dateTime = 13, text = 14
}

/// Why a Sparkplug B payload could not be decoded, and where.
public struct SparkplugError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset in the payload.
    public let offset: Int
    public let reason: String

    public var description: String { "malformed Sparkplug B payload at byte \(offset): \(reason)" }
}

/// Reads protobuf wire format from a byte range, bounds-checked at every step.
struct ProtobufReader {
    enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    private let bytes: [UInt8]
    private(set) var offset: Int
    private let end: Int

    init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        offset = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
    }

    private func fail(_ reason: String) -> SparkplugError {
        SparkplugError(offset: offset, reason: reason)
    }

    /// The next field number and wire type, or nil at the end.
    mutating func nextTag() throws(SparkplugError) -> (UInt64, WireType)? {
        guard offset < end else { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: key & 7) else { throw fail("unknown wire type \(key & 7)") }
        let field = key >> 3
        guard field >= 1 else { throw fail("field number 0") }
        return (field, wire)
    }

    mutating func varint() throws(SparkplugError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw fail("truncated varint") }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    mutating func fixed32() throws(SparkplugError) -> UInt32 {
        guard end - offset >= 4 else { throw fail("truncated 32-bit field") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    mutating func fixed64() throws(SparkplugError) -> UInt64 {
        guard end - offset >= 8 else { throw fail("truncated 64-bit field") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    /// The byte range of a length-delimited field, which the reader then skips.
    mutating func lengthDelimited() throws(SparkplugError) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - offset) else { throw fail("length \(length) runs past the end") }
        let range = offset..<(offset + Int(length))
        offset = range.upperBound
        return range
    }

    mutating func string() throws(SparkplugError) -> String {
        let range = try lengthDelimited()
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw SparkplugError(offset: range.lowerBound, reason: "string is not valid UTF-8")
        }
        return text
    }

    mutating func skip(_ wire: WireType) throws(SparkplugError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup, .endGroup: throw fail("protobuf groups are not used by Sparkplug B")
        }
    }
}
