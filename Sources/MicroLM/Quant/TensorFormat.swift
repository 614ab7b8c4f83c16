import CMicroLMKernels

/// The tensor formats the engine computes with, and their scalar reference code.
///
/// The dequantizers here are plain, obviously-correct loops over the ggml block layouts
/// (declared with their sizes in `CMicroLMKernels.h`). They are the oracle that every
/// SIMD kernel is tested against, and they serve the few places where speed does not
/// matter (an embedding row per token).
public enum TensorFormat {
    /// Types that the matrix kernels implement.
    public static let supported: [GGMLType] = [.f32, .f16, .q4_0, .q4_1, .q8_0, .q4_K, .q6_K]

    /// Whether the kernels can multiply a matrix of `type`.
    public static func isSupported(_ type: GGMLType) -> Bool {
        mlk_type_supported(Int32(type.rawValue)) != 0
    }

    /// Bytes of one row of `count` elements, or nil when `count` does not fill whole blocks.
    public static func rowSize(_ type: GGMLType, count: Int) -> Int? {
        let size = Int(mlk_row_size(Int32(type.rawValue), Int64(count)))
        return size > 0 ? size : nil
    }

    /// Dequantizes one row of `count` elements of `type` from `source` into `destination`.
    /// `count` must fill whole blocks of the type (see `rowSize`).
    public static func dequantizeRow(
        _ type: GGMLType, _ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        switch type {
        case .f32:
            destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            for i in 0..<count { destination[i] = halfToFloat(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q4_0:
            for b in 0..<(count / 32) {
                let block = source + b * 18
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                for i in 0..<16 {
                    let byte = block.load(fromByteOffset: 2 + i, as: UInt8.self)
                    destination[b * 32 + i] = d * Float(Int(byte & 0x0F) - 8)
                    destination[b * 32 + i + 16] = d * Float(Int(byte >> 4) - 8)
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let block = source + b * 20
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                let m = halfToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                for i in 0..<16 {
                    let byte = block.load(fromByteOffset: 4 + i, as: UInt8.self)
                    destination[b * 32 + i] = d * Float(byte & 0x0F) + m
                    destination[b * 32 + i + 16] = d * Float(byte >> 4) + m
                }
            }
        case .q8_0:
            for b in 0..<(count / 32) {
                let block = source + b * 34
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                for i in 0..<32 {
                    destination[b * 32 + i] = d * Float(block.load(fromByteOffset: 2 + i, as: Int8.self))
                }
            }
        case .q4_K:
            for b in 0..<(count / 256) { dequantizeQ4K(source + b * 144, into: destination + b * 256) }
        case .q6_K:
            for b in 0..<(count / 256) { dequantizeQ6K(source + b * 210, into: destination + b * 256) }
        default:
            destination.update(repeating: .nan, count: count)
        }
    }

    /// Q4_K: 8 sub-blocks of 32; 6-bit scales and mins packed in 12 bytes.
    private static func dequantizeQ4K(_ block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
        let dmin = halfToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        func scales(_ j: Int) -> (Float, Float) {
            let q = { (i: Int) in Int(block.load(fromByteOffset: 4 + i, as: UInt8.self)) }
            if j < 4 { return (Float(q(j) & 63), Float(q(j + 4) & 63)) }
            return (Float((q(j + 4) & 0xF) | ((q(j - 4) >> 6) << 4)), Float((q(j + 4) >> 4) | ((q(j) >> 6) << 4)))
        }
        for chunk in 0..<4 {
            let (s1, m1) = scales(2 * chunk)
            let (s2, m2) = scales(2 * chunk + 1)
            for l in 0..<32 {
                let byte = block.load(fromByteOffset: 16 + chunk * 32 + l, as: UInt8.self)
                y[chunk * 64 + l] = d * s1 * Float(byte & 0xF) - dmin * m1
                y[chunk * 64 + 32 + l] = d * s2 * Float(byte >> 4) - dmin * m2
            }
        }
    }

    /// Q6_K: 16 sub-blocks of 16 with int8 scales; 4 low bits in `ql`, 2 high bits in `qh`.
    private static func dequantizeQ6K(_ block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
        for half in 0..<2 {
            let ql = block + half * 64, qh = block + 128 + half * 32
            let sc = block + 192 + half * 8
            for l in 0..<32 {
                let a = Int(ql.load(fromByteOffset: l, as: UInt8.self))
                let b = Int(ql.load(fromByteOffset: l + 32, as: UInt8.self))
                let h = Int(qh.load(fromByteOffset: l, as: UInt8.self))
                let q = [(a & 0xF) | ((h & 3) << 4), (b & 0xF) | (((h >> 2) & 3) << 4),
                         (a >> 4) | (((h >> 4) & 3) << 4), (b >> 4) | (((h >> 6) & 3) << 4)]
                for k in 0..<4 {
                    let scale = Float(sc.load(fromByteOffset: l / 16 + 2 * k, as: Int8.self))
                    y[half * 128 + k * 32 + l] = d * scale * Float(q[k] - 32)
                }
            }
        }
    }

    /// Reference quantizer for the 32-element formats (Q4_0, Q4_1, Q8_0, as ggml's
    /// reference code does it), F16 and F32: builds test matrices and small models.
    /// Returns nil for other types or a count that is not a multiple of 32.
    public static func quantize(_ values: [Float], as type: GGMLType) -> [UInt8]? {
        var out: [UInt8] = []
        func appendHalf(_ x: Float) { let h = floatToHalf(x); out.append(UInt8(h & 0xFF)); out.append(UInt8(h >> 8)) }
        switch type {
        case .f32:
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            return out
        case .f16:
            for v in values { appendHalf(v) }
            return out
        case .q4_0, .q4_1, .q8_0:
            guard values.count % 32 == 0 else { return nil }
        default:
            return nil
        }
        for b in 0..<(values.count / 32) {
            let x = values[(b * 32)..<(b * 32 + 32)]
            switch type {
            case .q4_0:
                var amax: Float = 0, maxv: Float = 0
                for v in x where abs(v) > amax { amax = abs(v); maxv = v }
                let d = maxv / -8, id = d != 0 ? 1 / d : 0
                appendHalf(d)
                let q = x.map { UInt8(min(15, Int(($0 * id + 8.5).rounded(.down)))) }
                for i in 0..<16 { out.append(q[i] | (q[i + 16] << 4)) }
            case .q4_1:
                let lo = x.min() ?? 0, hi = x.max() ?? 0
                let d = (hi - lo) / 15, id = d != 0 ? 1 / d : 0
                appendHalf(d)
                appendHalf(lo)
                let q = x.map { UInt8(min(15, max(0, Int((($0 - lo) * id + 0.5).rounded(.down))))) }
                for i in 0..<16 { out.append(q[i] | (q[i + 16] << 4)) }
            default:  // q8_0
                let amax = x.map(abs).max() ?? 0
                let d = amax / 127, id = d != 0 ? 1 / d : 0
                appendHalf(d)
                for v in x { out.append(UInt8(bitPattern: Int8((v * id).rounded()))) }
            }
        }
        return out
    }

    /// IEEE half (as bits) to float.
    public static func halfToFloat(_ h: UInt16) -> Float { mlk_h2f_public(h) }
    /// Float to IEEE half bits, rounding to nearest even.
    public static func floatToHalf(_ f: Float) -> UInt16 { mlk_f2h_public(f) }
}
