/// A minimal protobuf writer for building Sparkplug B payloads in tests (field numbers from the
/// Sparkplug 3.0 `Payload` and `Payload.Metric` messages).
public struct ProtobufWriter {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func key(_ field: UInt64, _ wire: UInt64) { varint(field << 3 | wire) }
    public mutating func varintField(_ field: UInt64, _ value: UInt64) { key(field, 0); varint(value) }
    public mutating func fixed32Field(_ field: UInt64, _ value: UInt32) {
        key(field, 5)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }
    public mutating func fixed64Field(_ field: UInt64, _ value: UInt64) {
        key(field, 1)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
    public mutating func bytesField(_ field: UInt64, _ value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }

    public enum MetricValue {
        case int(Int32, datatype: UInt64)
        case long(Int64)
        case float(Float)
        case double(Double)
        case bool(Bool)
        case string(String)
        case null(datatype: UInt64)
    }

    public static func metric(name: String? = nil, alias: UInt64? = nil, timestamp: UInt64? = nil, _ value: MetricValue) -> [UInt8] {
        var m = ProtobufWriter()
        if let name { m.bytesField(1, Array(name.utf8)) }
        if let alias { m.varintField(2, alias) }
        if let timestamp { m.varintField(3, timestamp) }
        switch value {
        case .int(let v, let datatype): m.varintField(4, datatype); m.varintField(10, UInt64(UInt32(bitPattern: v)))
        case .long(let v): m.varintField(4, 4); m.varintField(11, UInt64(bitPattern: v))
        case .float(let v): m.varintField(4, 9); m.fixed32Field(12, v.bitPattern)
        case .double(let v): m.varintField(4, 10); m.fixed64Field(13, v.bitPattern)
        case .bool(let v): m.varintField(4, 11); m.varintField(14, v ? 1 : 0)
        case .string(let v): m.varintField(4, 12); m.bytesField(15, Array(v.utf8))
        case .null(let datatype): m.varintField(4, datatype); m.varintField(7, 1)
        }
        return m.bytes
    }

    public static func payload(timestamp: UInt64? = nil, seq: UInt64? = nil, metrics: [[UInt8]]) -> [UInt8] {
        var p = ProtobufWriter()
        if let timestamp { p.varintField(1, timestamp) }
        for m in metrics { p.bytesField(2, m) }
        if let seq { p.varintField(3, seq) }
        // An unknown field (uuid) the reader must skip.
        p.bytesField(4, Array("vigil-test".utf8))
        return p.bytes
    }
}

