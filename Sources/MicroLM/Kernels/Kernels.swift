import CMicroLMKernels

/// Entry points to the C kernels for code and tests outside the forward pass.
///
/// Levels: 0 is the portable scalar code; on x86-64 1 is AVX2 and 2 AVX-512 VNNI, on arm64
/// 1 is NEON and 2 NEON with the dot-product extension. A level above what the CPU has runs
/// the best it has. The forward pass always runs the best level.
public enum Kernels {
    /// The best level this CPU runs (0 scalar; 1 AVX2 or NEON; 2 AVX-512 VNNI or NEON+dotprod).
    public static var simdLevel: Int { Int(mlk_simd_level()) }

    /// The name of the kernels the forward pass runs: "scalar", "avx2", "avx512vnni", "neon"
    /// or "neon+dotprod".
    public static var path: String { String(cString: mlk_kernel_path()) }

    /// The name of the kernels that run at `level` on this CPU (capped at the best it has).
    public static func pathName(level: Int) -> String { String(cString: mlk_level_name(Int32(level))) }

    /// An activation block: `d = max|x| / 127`, `q = round(x / d)`, `s = d * Σq`.
    public struct ActivationBlock: Sendable, Equatable {
        public var d: Float
        public var s: Float
        public var q: [Int8]
    }

    /// Quantizes `x` (a multiple of 32 values; nil otherwise) into activation blocks at `level`.
    public static func quantizeActivations(_ x: [Float], level: Int) -> [ActivationBlock]? {
        guard x.count % 32 == 0 else { return nil }
        var blocks = [mlk_block_q8a](repeating: mlk_block_q8a(), count: x.count / 32)
        mlk_quantize_q8a_at(Int32(level), x, &blocks, Int64(x.count))
        return blocks.map { block in
            var b = block
            let q = withUnsafeBytes(of: &b.qs) { Array($0.bindMemory(to: Int8.self)) }
            return ActivationBlock(d: block.d, s: block.s, q: q)
        }
    }

    /// Y (batch x rows) = X (batch x columns) · Wᵀ with W stored as `rows` rows of `columns`
    /// elements of `type`, on one thread at `level`. Quantized types quantize X first, as the
    /// engine does. Returns nil for an unsupported type or a shape that does not fit it.
    public static func matmul(
        type: GGMLType, weights: [UInt8], rows: Int, columns: Int, input: [Float], batch: Int, level: Int
    ) -> [Float]? {
        guard let rowSize = TensorFormat.rowSize(type, count: columns), TensorFormat.isSupported(type),
              weights.count >= rowSize * rows, input.count == batch * columns else { return nil }
        var y = [Float](repeating: .nan, count: batch * rows)
        let t = Int32(type.rawValue)
        if mlk_type_uses_q8a(t) != 0 {
            var xq = [mlk_block_q8a](repeating: mlk_block_q8a(), count: batch * columns / 32)
            mlk_quantize_q8a_at(Int32(level), input, &xq, Int64(input.count))
            mlk_gemm_at(Int32(level), t, weights, Int64(columns), 0, Int64(rows), xq, Int64(batch), &y, Int64(rows))
        } else {
            mlk_gemm_at(Int32(level), t, weights, Int64(columns), 0, Int64(rows), input, Int64(batch), &y, Int64(rows))
        }
        return y
    }

    /// As `matmul(...level:)`, at the best level and split over the threads of `pool`.
    public static func matmul(
        type: GGMLType, weights: [UInt8], rows: Int, columns: Int, input: [Float], batch: Int, pool: ThreadPool
    ) -> [Float]? {
        guard let rowSize = TensorFormat.rowSize(type, count: columns), TensorFormat.isSupported(type),
              weights.count >= rowSize * rows, input.count == batch * columns else { return nil }
        var y = [Float](repeating: .nan, count: batch * rows)
        let t = Int32(type.rawValue)
        var xq = [mlk_block_q8a](repeating: mlk_block_q8a(), count: batch * columns / 32)
        mlk_quantize_q8a(input, &xq, Int64(input.count))
        weights.withUnsafeBytes { w in
            y.withUnsafeMutableBufferPointer { out in
                var job = mlk_matmul_job(type: t, w: w.baseAddress, rows: Int64(rows), y: out.baseAddress, ldy: Int64(rows))
                mlk_matmul(pool.pointer, &job, 1, Int64(columns), xq, input, Int64(batch))
            }
        }
        return y
    }
}
