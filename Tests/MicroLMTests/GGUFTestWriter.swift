import Foundation
import MicroLM

/// A tiny GGUF writer for tests: builds a valid file and records where each header field lies,
/// so fuzz tests can overwrite exactly one field.
struct GGUFTestWriter {
    struct Tensor {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        /// The tensor's bytes, written as they are (shorter than the shape makes a truncated file);
        /// nil for a deterministic pattern of the right size.
        var data: [UInt8]? = nil
    }

    /// A header field and where it is in the output.
    struct Field {
        enum Kind: CaseIterable { case count, length, valueType, elementType, dimensionCount, dimension, tensorType, tensorOffset }
        var kind: Kind
        var offset: Int
        var width: Int
    }

    var version: UInt32 = 3
    var metadata: [(String, GGUFValue)] = []
    var tensors: [Tensor] = []
    var alignment = 32

    private(set) var fields: [Field] = []
    private var bytes: [UInt8] = []

    /// The file's bytes; tensor data is a deterministic byte pattern.
    mutating func build() -> [UInt8] {
        bytes = []
        fields = []
        append(UInt32(0x4655_4747), 4)
        append(version, 4)
        appendField(.count, UInt64(tensors.count), 8)
        appendField(.count, UInt64(metadata.count), 8)
        for (key, value) in metadata {
            appendString(key)
            appendField(.valueType, UInt64(Self.typeID(of: value)), 4)
            appendValue(value)
        }
        var relative = 0
        var sizes: [Int] = []
        for tensor in tensors {
            appendString(tensor.name)
            appendField(.dimensionCount, UInt64(tensor.dimensions.count), 4)
            for dim in tensor.dimensions { appendField(.dimension, UInt64(dim), 8) }
            appendField(.tensorType, UInt64(tensor.type.rawValue), 4)
            appendField(.tensorOffset, UInt64(relative), 8)
            let elements = tensor.dimensions.reduce(1, *)
            let size = elements / tensor.type.blockSize * tensor.type.bytesPerBlock
            sizes.append(size)
            relative += (size + alignment - 1) / alignment * alignment
        }
        while bytes.count % alignment != 0 { bytes.append(0) }
        for (index, size) in sizes.enumerated() {
            if let data = tensors[index].data {
                bytes.append(contentsOf: data.prefix(size))
            } else {
                for i in 0..<size { bytes.append(UInt8(truncatingIfNeeded: i &* 31 &+ index)) }
            }
            while bytes.count % alignment != 0 { bytes.append(0) }
        }
        return bytes
    }

    /// A small model-like file: scalar metadata of every type, arrays, a vocabulary, and tensors of several types.
    static func sample() -> GGUFTestWriter {
        var writer = GGUFTestWriter()
        writer.metadata = [
            ("general.architecture", .string("llama")),
            ("general.alignment", .uint32(32)),
            ("test.u8", .uint8(200)), ("test.i8", .int8(-5)), ("test.u16", .uint16(60000)), ("test.i16", .int16(-300)),
            ("test.i32", .int32(-70000)), ("test.u64", .uint64(1 << 40)), ("test.i64", .int64(-(1 << 40))),
            ("test.f32", .float32(0.5)), ("test.f64", .float64(-2.25)), ("test.bool", .bool(true)),
            ("llama.block_count", .uint32(2)),
            ("tokenizer.ggml.tokens", .array(["a", "b", "ab", "Ġ", "<s>"].map(GGUFValue.string))),
            ("tokenizer.ggml.scores", .array([0.0, -1.0, -2.5].map { GGUFValue.float32($0) })),
            ("test.nested", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])])),
            ("test.empty", .array([])),
        ]
        writer.tensors = [
            Tensor(name: "token_embd.weight", dimensions: [64, 5], type: .q8_0),
            Tensor(name: "output_norm.weight", dimensions: [64], type: .f32),
            Tensor(name: "blk.0.attn_q.weight", dimensions: [64, 64], type: .q4_1),
            Tensor(name: "blk.0.ffn_down.weight", dimensions: [256, 2], type: .q6_K),
            Tensor(name: "half", dimensions: [3, 2, 2, 1], type: .f16),
        ]
        return writer
    }

    static func typeID(of value: GGUFValue) -> UInt32 {
        switch value {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T, _ width: Int) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0.prefix(width)) }
    }

    private mutating func appendField(_ kind: Field.Kind, _ value: UInt64, _ width: Int) {
        fields.append(Field(kind: kind, offset: bytes.count, width: width))
        append(value, width)
    }

    private mutating func appendString(_ string: String) {
        appendField(.length, UInt64(string.utf8.count), 8)
        bytes.append(contentsOf: string.utf8)
    }

    private mutating func appendValue(_ value: GGUFValue) {
        switch value {
        case let .uint8(v): append(v, 1)
        case let .int8(v): append(v, 1)
        case let .uint16(v): append(v, 2)
        case let .int16(v): append(v, 2)
        case let .uint32(v): append(v, 4)
        case let .int32(v): append(v, 4)
        case let .uint64(v): append(v, 8)
        case let .int64(v): append(v, 8)
        case let .float32(v): append(v.bitPattern, 4)
        case let .float64(v): append(v.bitPattern, 8)
        case let .bool(v): append(UInt8(v ? 1 : 0), 1)
        case let .string(s): appendString(s)
        case let .array(values):
            appendField(.elementType, UInt64(values.first.map(Self.typeID(of:)) ?? 4), 4)
            appendField(.count, UInt64(values.count), 8)
            for v in values { appendValue(v) }
        }
    }
}

/// SplitMix64: a small deterministic generator for fuzz tests.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    func write(to path: String) throws {
        try Data(self).write(to: URL(fileURLWithPath: path))
    }
}
