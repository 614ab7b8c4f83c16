import MQTT
import Testing

/// Protobuf wire format, written by hand so the tests build payloads field by field.
private struct Writer {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: UInt64, _ wire: UInt64) { varint(field << 3 | wire) }
    mutating func varintField(_ field: UInt64, _ value: UInt64) { tag(field, 0); varint(value) }
    mutating func bytesField(_ field: UInt64, _ value: [UInt8]) { tag(field, 2); varint(UInt64(value.count)); bytes += value }
    mutating func stringField(_ field: UInt64, _ value: String) { bytesField(field, Array(value.utf8)) }

    mutating func fixed32Field(_ field: UInt64, _ value: UInt32) {
        tag(field, 5)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }

    mutating func fixed64Field(_ field: UInt64, _ value: UInt64) {
        tag(field, 1)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}

private func metric(_ build: (inout Writer) -> Void) -> [UInt8] {
    var w = Writer()
    build(&w)
    return w.bytes
}

/// A DDATA payload with one metric of each scalar kind, plus fields the decoder must skip.
private func sample() -> [UInt8] {
    var p = Writer()
    p.varintField(1, 1_700_000_000_123)  // timestamp
    p.bytesField(2, metric { m in
        m.stringField(1, "Pump/Discharge Pressure")
        m.varintField(2, 7)  // alias
        m.varintField(3, 1_700_000_000_100)
        m.varintField(4, 10)  // Double
        m.fixed64Field(13, (4.25).bitPattern)
    })
    p.bytesField(2, metric { m in
        m.varintField(2, 8)  // alias only, as NDATA may send
        m.varintField(4, 3)  // Int32
        m.varintField(10, UInt64(UInt32(bitPattern: -12)))
        m.bytesField(9, [0x0A, 0x01, 0x41])  // properties: skipped
    })
    p.bytesField(2, metric { m in
        m.stringField(1, "Fan/Speed")
        m.varintField(4, 9)  // Float
        m.fixed32Field(12, Float(1480.5).bitPattern)
    })
    p.bytesField(2, metric { m in
        m.stringField(1, "Valve/Open")
        m.varintField(4, 11)  // Boolean
        m.varintField(14, 1)
    })
    p.bytesField(2, metric { m in
        m.stringField(1, "Line/Count")
        m.varintField(4, 4)  // Int64
        m.varintField(11, UInt64(bitPattern: -5_000_000_000))
    })
    p.bytesField(2, metric { m in
        m.stringField(1, "Tank/Level")
        m.varintField(4, 10)
        m.varintField(7, 1)  // is_null
    })
    p.stringField(4, "uuid-is-skipped")
    p.varintField(3, 42)  // seq
    return p.bytes
}

@Suite("Sparkplug B payloads (protobuf, decoded by hand)")
struct SparkplugTests {
    @Test("metrics of every scalar kind: names, aliases, timestamps, datatypes and values")
    func decodesScalars() throws {
        let payload = try SparkplugPayload(decoding: sample())
        #expect(payload.timestamp == 1_700_000_000_123)
        #expect(payload.sequence == 42)
        #expect(payload.metrics.count == 6)
        let m = payload.metrics
        #expect(m[0].name == "Pump/Discharge Pressure")
        #expect(m[0].alias == 7)
        #expect(m[0].timestamp == 1_700_000_000_100)
        #expect(m[0].datatype == SparkplugDataType.double.rawValue)
        #expect(m[0].value == .double(4.25))
        #expect(m[1].name == nil)
        #expect(m[1].alias == 8)
        #expect(m[1].timestamp == nil)
        #expect(m[1].value == .int(-12), "Int32 is sign-extended from int_value")
        #expect(m[2].value == .float(1480.5))
        #expect(m[3].value == .bool(true))
        #expect(m[3].value?.doubleValue == 1)
        #expect(m[4].value == .int(-5_000_000_000))
        #expect(m[5].isNull)
        #expect(m[5].value == nil)
    }

    @Test("an empty payload has no metrics")
    func emptyPayload() throws {
        let payload = try SparkplugPayload(decoding: [])
        #expect(payload.metrics.isEmpty)
        #expect(payload.timestamp == nil)
    }

    @Test("every truncation of a valid payload throws or decodes fewer metrics, never traps")
    func truncations() {
        let full = sample()
        var failures = 0
        for length in 0..<full.count {
            do {
                let payload = try SparkplugPayload(decoding: Array(full[..<length]))
                #expect(payload.metrics.count <= 6)
            } catch {
                failures += 1
                #expect(error.offset >= 0 && error.offset <= length)
            }
        }
        #expect(failures > 0, "cut-off fields must be reported")
    }

    @Test("hostile encodings are clear errors", arguments: [
        ([0x08], "truncated varint"),
        ([0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "varint overflows 64 bits"),
        ([0x12, 0x80, 0x80, 0x80, 0x80, 0x08], "runs past the end"),
        ([0x0B], "groups"),
        ([0x0E], "unknown wire type"),
        ([0x00], "field number 0"),
        ([0x12, 0x03, 0x0A, 0x01, 0xFF], "not valid UTF-8"),
        ([0x12, 0x02, 0x65, 0x00], "truncated 32-bit field"),
    ] as [([UInt8], String)])
    func hostile(bytes: [UInt8], reason: String) {
        #expect(throws: SparkplugError.self) { try SparkplugPayload(decoding: bytes) }
        do {
            _ = try SparkplugPayload(decoding: bytes)
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    @Test("random bytes never trap (fixed seed, 20,000 inputs)")
    func randomBytes() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        var decoded = 0
        for _ in 0..<20_000 {
            let count = Int(next() % 64)
            // Bias towards valid-looking tags so that decoding gets past the first byte.
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: next() % 3 == 0 ? 0x12 : next()) }
            if (try? SparkplugPayload(decoding: bytes)) != nil { decoded += 1 }
        }
        #expect(decoded < 20_000, "some random inputs must be refused")
    }

    @Test("unknown fields of known wire types are skipped")
    func unknownFields() throws {
        var p = Writer()
        p.varintField(99, 5)
        p.fixed32Field(98, 1)
        p.fixed64Field(97, 1)
        p.bytesField(96, [1, 2, 3])
        p.bytesField(2, metric { m in
            m.stringField(1, "A")
            m.varintField(4, 8)  // UInt64
            m.varintField(11, UInt64.max)
            m.varintField(50, 1)
        })
        let payload = try SparkplugPayload(decoding: p.bytes)
        #expect(payload.metrics.map(\.name) == ["A"])
        #expect(payload.metrics.first?.value == .uint(UInt64.max))
    }
}
