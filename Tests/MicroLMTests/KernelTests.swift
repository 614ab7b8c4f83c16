import MicroLM
import Testing

/// A small deterministic generator for test data (SplitMix64).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// Random matrix bytes of `type`: the reference quantizer for the 32-element formats,
/// random blocks with sane half-precision scales for the K-quants.
func randomMatrix(_ type: GGMLType, rows: Int, columns: Int, rng: inout TestRandom) -> [UInt8] {
    if let bytes = TensorFormat.quantize(rng.floats(rows * columns, scale: 0.5), as: type) { return bytes }
    let blocks = rows * columns / 256
    var out: [UInt8] = []
    func setHalf(_ bytes: inout [UInt8], _ at: Int, _ value: Float) {
        let h = TensorFormat.floatToHalf(value)
        bytes[at] = UInt8(h & 0xFF)
        bytes[at + 1] = UInt8(h >> 8)
    }
    for _ in 0..<blocks {
        if type == .q4_K {
            var b = rng.bytes(144)
            setHalf(&b, 0, 0.002 + abs(rng.float()) * 0.01)
            setHalf(&b, 2, abs(rng.float()) * 0.01)
            out += b
        } else {
            var b = rng.bytes(210)
            setHalf(&b, 208, 0.0005 + abs(rng.float()) * 0.002)
            out += b
        }
    }
    return out
}

func dequantizedRows(_ type: GGMLType, _ bytes: [UInt8], rows: Int, columns: Int) -> [Float] {
    let rowSize = TensorFormat.rowSize(type, count: columns)!
    var out = [Float](repeating: 0, count: rows * columns)
    bytes.withUnsafeBytes { raw in
        out.withUnsafeMutableBufferPointer { dst in
            for r in 0..<rows {
                TensorFormat.dequantizeRow(type, raw.baseAddress! + r * rowSize, count: columns,
                                           into: dst.baseAddress! + r * columns)
            }
        }
    }
    return out
}

struct MatmulCase: CustomTestStringConvertible, Sendable {
    let type: GGMLType
    let level: Int
    let rows: Int
    let columns: Int
    let batch: Int
    var testDescription: String { "\(type) level \(level) \(rows)x\(columns) batch \(batch)" }
}

let matmulCases: [MatmulCase] = {
    var cases: [MatmulCase] = []
    let shapes32 = [(1, 32, 1), (5, 64, 3), (13, 96, 7), (36, 576, 5), (8, 1536, 9)]
    let shapes256 = [(3, 256, 1), (9, 512, 6)]
    for type in TensorFormat.supported {
        for level in 0...2 {
            for (r, c, b) in (type == .q4_K || type == .q6_K ? shapes256 : shapes32) {
                cases.append(MatmulCase(type: type, level: level, rows: r, columns: c, batch: b))
            }
        }
    }
    return cases
}()

@Suite("Kernels")
struct KernelTests {
    @Test("half conversions agree with Float16", arguments: [Float(0), -0.0, 1, -2.5, 65504, 70000, 1e-5, 6.1e-5, -3e-7, 5.96e-8, 0.333333, 1e-9])
    func halfConversions(value: Float) {
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        let expected = Float16(value)
        #expect(TensorFormat.floatToHalf(value) == expected.bitPattern)
        #expect(TensorFormat.halfToFloat(expected.bitPattern) == Float(expected))
        #endif
    }

    @Test("activation quantization: d = max|x|/127, |x - d·q| ≤ d/2, s = d·Σq", arguments: 0...2)
    func activationQuantization(level: Int) throws {
        var rng = TestRandom(seed: 7 + UInt64(level))
        var x = rng.floats(32 * 20, scale: 3)
        x.replaceSubrange(32..<64, with: [Float](repeating: 0, count: 32))  // an all-zero block
        let blocks = try #require(Kernels.quantizeActivations(x, level: level))
        #expect(blocks.count == 20)
        #expect(Kernels.quantizeActivations([1, 2, 3], level: level) == nil)
        for (b, block) in blocks.enumerated() {
            let xs = x[(b * 32)..<(b * 32 + 32)]
            let amax = xs.map(abs).max()!
            #expect(abs(block.d - amax / 127) <= amax / 127 / 1024)  // half precision
            var sum = 0
            for (i, v) in xs.enumerated() {
                #expect(abs(v - block.d * Float(block.q[i])) <= block.d * 0.57 + 1e-7)  // d/2 + the half rounding of d
                sum += Int(block.q[i])
            }
            #expect(abs(block.s - block.d * Float(sum)) <= abs(block.s) / 1024 + 1e-6)
        }
    }

    @Test("matrix product against the scalar dequantizer", arguments: matmulCases)
    func matmulMatchesReference(c: MatmulCase) throws {
        var rng = TestRandom(seed: UInt64(c.rows * 1000 + c.columns + c.batch) &* 31 &+ UInt64(c.type.rawValue))
        let weights = randomMatrix(c.type, rows: c.rows, columns: c.columns, rng: &rng)
        let x = rng.floats(c.batch * c.columns, scale: 2)
        let y = try #require(Kernels.matmul(type: c.type, weights: weights, rows: c.rows, columns: c.columns,
                                            input: x, batch: c.batch, level: c.level))
        let w = dequantizedRows(c.type, weights, rows: c.rows, columns: c.columns)
        let quantized = c.type != .f32 && c.type != .f16
        // The activations the kernel saw: dequantized from its own quantization.
        let blocks = quantized ? try #require(Kernels.quantizeActivations(x, level: c.level)) : []
        for b in 0..<c.batch {
            for r in 0..<c.rows {
                var exact = 0.0, magnitude = 0.0, bound = 0.0
                // The 4-bit kernels use s (rounded to half precision) for the offset term:
                // allow |offset| <= max|w| of the block times the rounding of s.
                if c.type == .q4_0 || c.type == .q4_1 {
                    for blk in 0..<(c.columns / 32) {
                        let wmax = (0..<32).map { abs(Double(w[r * c.columns + blk * 32 + $0])) }.max()!
                        magnitude += wmax * abs(Double(blocks[b * c.columns / 32 + blk].s)) / 1024 / 2e-5
                    }
                }
                for k in 0..<c.columns {
                    let wk = Double(w[r * c.columns + k])
                    var xk = Double(x[b * c.columns + k])
                    if quantized {
                        let blk = blocks[(b * c.columns + k) / 32]
                        xk = Double(blk.d) * Double(blk.q[k % 32])
                        bound += abs(wk) * Double(blk.d) * 0.57
                    }
                    exact += wk * xk
                    magnitude += abs(wk * xk)
                }
                let got = Double(y[b * c.rows + r])
                // Against the dequantized activations: float rounding only.
                #expect(abs(got - exact) <= 2e-5 * magnitude + 1e-5, "row \(r) batch \(b): \(got) vs \(exact)")
                // Against the float activations: within the activation quantization error.
                var plain = 0.0
                for k in 0..<c.columns { plain += Double(w[r * c.columns + k]) * Double(x[b * c.columns + k]) }
                #expect(abs(got - plain) <= bound * 1.001 + 2e-5 * magnitude + 1e-5)
            }
        }
    }

    @Test("parallel product equals the single-threaded one", arguments: [GGMLType.q4_1, .q8_0, .q4_0, .f32])
    func parallelMatmul(type: GGMLType) throws {
        var rng = TestRandom(seed: 99)
        let rows = 203, columns = 192, batch = 6
        let weights = randomMatrix(type, rows: rows, columns: columns, rng: &rng)
        let x = rng.floats(batch * columns)
        let pool = ThreadPool(threads: 3)
        let single = try #require(Kernels.matmul(type: type, weights: weights, rows: rows, columns: columns,
                                                 input: x, batch: batch, level: Kernels.simdLevel))
        for _ in 0..<3 {
            let parallel = try #require(Kernels.matmul(type: type, weights: weights, rows: rows, columns: columns,
                                                       input: x, batch: batch, pool: pool))
            #expect(parallel == single)
        }
    }

    @Test("the kernel path is named, and level 0 is the scalar code")
    func kernelPath() {
        #if arch(arm64)
        let names: [String] = ["neon", "neon+dotprod"]
        #elseif arch(x86_64)
        let names: [String] = ["scalar", "avx2", "avx512vnni"]
        #else
        let names: [String] = ["scalar"]
        #endif
        #expect(names.contains(Kernels.path))
        #expect(Kernels.pathName(level: 0) == "scalar")
        #expect(Kernels.pathName(level: Kernels.simdLevel) == Kernels.path)
        #expect(Kernels.pathName(level: 9) == Kernels.path)
    }

    @Test("unsupported type or shape gives nil")
    func unsupported() {
        #expect(Kernels.matmul(type: .q5_0, weights: [UInt8](repeating: 0, count: 22), rows: 1, columns: 32,
                               input: [Float](repeating: 0, count: 32), batch: 1, level: 0) == nil)
        #expect(Kernels.matmul(type: .q4_1, weights: [UInt8](repeating: 0, count: 20), rows: 1, columns: 33,
                               input: [Float](repeating: 0, count: 33), batch: 1, level: 0) == nil)
    }
}
