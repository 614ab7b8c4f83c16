import CMicroLMKernels

/// The llama forward pass over a batch of tokens, in the order of the reference
/// implementations: embed; per block RMSNorm, Q/K/V, RoPE, causal grouped-query attention
/// over the KV cache, output projection, residual; RMSNorm, SwiGLU feed-forward, residual;
/// final RMSNorm and the output matrix for the last token. Matrix products quantize the
/// activations once per batch (as llama.cpp does) and run on the session's thread pool.
struct LlamaForward {
    let config: LlamaConfig
    let weights: LlamaWeights
    /// Low-rank corrections added to the products of the matrices it covers; nil for the base model.
    let adapter: LoRAAdapter?
    let state: RunState
    let pool: ThreadPool

    /// Runs `tokens` (at most `state.maxBatch`, already validated) at positions
    /// `position ..< position + tokens.count`, writing their keys and values into the cache.
    /// With `logits`, leaves the logits after the last token in `state.logits`.
    func callAsFunction(_ tokens: UnsafeBufferPointer<Int32>, at position: Int, logits: Bool) {
        let c = config, s = state, w = weights
        let nb = tokens.count, dim = c.embeddingLength, kvDim = c.kvDimension, ffn = c.feedForwardLength
        let n = s.contextLength

        // Token embeddings into the residual stream.
        for t in 0..<nb { w.tokenEmbedding.dequantizeRow(Int(tokens[t]), into: s.x + t * dim) }

        // RoPE angles of the batch's positions, shared by every layer and head.
        let half = c.ropeDimensionCount / 2
        for t in 0..<nb {
            for i in 0..<half {
                let angle = Double(position + t) * s.inverseFrequency[i]
                s.ropeCos[t * half + i] = Float(cos(angle))
                s.ropeSin[t * half + i] = Float(sin(angle))
            }
        }

        for (l, layer) in w.layers.enumerated() {
            let lora = adapter?.layers[l]
            // Attention.
            for t in 0..<nb { rmsNorm(s.xb + t * dim, s.x + t * dim, layer.attentionNorm, dim, c.rmsNormEpsilon) }
            matmul((layer.wq, s.q), (layer.wk, s.k), (layer.wv, s.v), input: s.xb, columns: dim, batch: nb)
            if let lora { addLowRank((lora.q, s.q), (lora.k, s.k), (lora.v, s.v), input: s.xb, batch: nb) }
            rope(s.q, batch: nb, heads: c.headCount)
            rope(s.k, batch: nb, heads: c.headCountKV)
            let kc = s.keyCache + l * n * kvDim, vc = s.valueCache + l * n * kvDim
            mlk_f32_to_f16(s.k, kc + position * kvDim, Int64(nb * kvDim))
            mlk_f32_to_f16(s.v, vc + position * kvDim, Int64(nb * kvDim))
            mlk_attention(pool.pointer, s.q, kc, vc, s.att, Int64(nb), Int64(position), Int32(c.headCount),
                          Int32(c.headCountKV), Int32(c.headDimension), 1 / Float(c.headDimension).squareRoot(),
                          s.attentionScratch, Int64(n))
            matmul((layer.wo, s.xb), input: s.att, columns: dim, batch: nb)
            if let lora { addLowRank((lora.o, s.xb), input: s.att, batch: nb) }
            add(s.x, s.xb, nb * dim)

            // Feed-forward.
            for t in 0..<nb { rmsNorm(s.xb + t * dim, s.x + t * dim, layer.ffnNorm, dim, c.rmsNormEpsilon) }
            matmul((layer.gate, s.hb), (layer.up, s.hb2), input: s.xb, columns: dim, batch: nb)
            if let lora { addLowRank((lora.gate, s.hb), (lora.up, s.hb2), input: s.xb, batch: nb) }
            mlk_swiglu(pool.pointer, s.hb, s.hb2, Int64(nb * ffn))
            matmul((layer.down, s.xb), input: s.hb, columns: ffn, batch: nb)
            if let lora { addLowRank((lora.down, s.xb), input: s.hb, batch: nb) }
            add(s.x, s.xb, nb * dim)
        }

        guard logits else { return }
        rmsNorm(s.xb, s.x + (nb - 1) * dim, w.outputNorm, dim, c.rmsNormEpsilon)
        matmul((w.output, s.logits), input: s.xb, columns: dim, batch: 1)
    }

    typealias Product = (matrix: WeightMatrix, output: UnsafeMutablePointer<Float>)

    /// output_j (batch x rows_j) = input (batch x columns) · W_jᵀ for up to three matrices
    /// that share their input, as one parallel step.
    private func matmul(_ a: Product, _ b: Product? = nil, _ c: Product? = nil,
                        input: UnsafeMutablePointer<Float>, columns: Int, batch: Int) {
        func job(_ p: Product?) -> mlk_matmul_job {
            guard let p else { return mlk_matmul_job() }
            return mlk_matmul_job(type: Int32(p.matrix.type.rawValue), w: p.matrix.data, rows: Int64(p.matrix.rows),
                                  y: p.output, ldy: Int64(p.matrix.rows))
        }
        var jobs = (job(a), job(b), job(c))
        let count = c != nil ? 3 : b != nil ? 2 : 1
        let quantized = { (p: Product?) in p.map { mlk_type_uses_q8a(Int32($0.matrix.type.rawValue)) != 0 } ?? false }
        if quantized(a) || quantized(b) || quantized(c) { mlk_quantize_q8a(input, state.xq, Int64(batch * columns)) }
        withUnsafeMutableBytes(of: &jobs) { raw in
            mlk_matmul(pool.pointer, raw.baseAddress!.assumingMemoryBound(to: mlk_matmul_job.self), Int32(count),
                       Int64(columns), state.xq, input, Int64(batch))
        }
    }

    typealias LowRank = (pair: LoRAAdapter.Pair?, output: UnsafeMutablePointer<Float>)

    /// output_j += (input · A_jᵀ) · B_jᵀ for up to three adapter pairs that share their input
    /// (B already holds the scale). First the rank-wide products into `state.loraRank` (one token
    /// on the calling thread: a few thousand multiply-adds cost less than a step of the pool; a
    /// batch on the pool), then per token `rank` multiply-adds of contiguous rows of Bᵀ into the
    /// output (a dot product of length `rank` per output would waste the SIMD width).
    private func addLowRank(_ a: LowRank, _ b: LowRank? = nil, _ c: LowRank? = nil,
                            input: UnsafeMutablePointer<Float>, batch nb: Int) {
        // The pairs present, in order, without building an array (the forward pass allocates nothing).
        func each(_ body: (Int, LoRAAdapter.Pair, UnsafeMutablePointer<Float>) -> Void) {
            if let p = a.pair { body(0, p, a.output) }
            if let b, let p = b.pair { body(1, p, b.output) }
            if let c, let p = c.pair { body(2, p, c.output) }
        }
        let f32 = Int32(GGMLType.f32.rawValue)
        let stride = nb * state.loraMaxRank
        // Down to the rank: x (nb x columns) · Aᵀ -> mid_j (nb x rank_j) at loraRank + j * stride.
        withUnsafeTemporaryAllocation(of: mlk_matmul_job.self, capacity: 3) { jobs in
            var count = 0, columns = 0
            each { j, pair, _ in
                columns = pair.columns
                jobs[count] = mlk_matmul_job(type: f32, w: pair.a, rows: Int64(pair.rank),
                                             y: state.loraRank + j * stride, ldy: Int64(pair.rank))
                count += 1
            }
            guard count > 0 else { return }
            if nb == 1 {
                for i in 0..<count {
                    mlk_gemm(f32, jobs[i].w, Int64(columns), 0, jobs[i].rows, input, 1, jobs[i].y, jobs[i].ldy)
                }
            } else {
                mlk_matmul(pool.pointer, jobs.baseAddress!, Int32(count), Int64(columns), nil, input, Int64(nb))
            }
        }
        // Up to the output: output_j[t] += Σ_k mid_j[t][k] · Bᵀ_j[k].
        each { j, pair, output in
            let mid = state.loraRank + j * stride
            for t in 0..<nb {
                let y = output + t * pair.rows, m = mid + t * pair.rank
                for k in 0..<pair.rank { axpy(y, m[k], pair.bt + k * pair.rows, pair.rows) }
            }
        }
    }

    /// Rotates adjacent pairs (2i, 2i+1) of each head by the angle of its position ("normal" RoPE).
    private func rope(_ x: UnsafeMutablePointer<Float>, batch: Int, heads: Int) {
        let hd = config.headDimension, half = config.ropeDimensionCount / 2
        for t in 0..<batch {
            let cosT = state.ropeCos + t * half, sinT = state.ropeSin + t * half
            for h in 0..<heads {
                let v = x + (t * heads + h) * hd
                for i in 0..<half {
                    let x0 = v[2 * i], x1 = v[2 * i + 1], c = cosT[i], s = sinT[i]
                    v[2 * i] = x0 * c - x1 * s
                    v[2 * i + 1] = x0 * s + x1 * c
                }
            }
        }
    }
}

/// out = x / sqrt(mean(x²) + eps) * weight.
@inline(__always)
private func rmsNorm(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                     _ n: Int, _ eps: Float) {
    var sum = 0.0
    for i in 0..<n { sum += Double(x[i]) * Double(x[i]) }
    let scale = 1 / (Float(sum / Double(n)) + eps).squareRoot()
    for i in 0..<n { out[i] = x[i] * scale * weight[i] }
}

/// y += a · x.
@inline(__always)
private func axpy(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    let av = SIMD8<Float>(repeating: a)
    while i + 8 <= n {
        let yr = UnsafeMutableRawPointer(y + i), xr = UnsafeRawPointer(x + i)
        yr.storeBytes(of: yr.loadUnaligned(as: SIMD8<Float>.self) + av * xr.loadUnaligned(as: SIMD8<Float>.self),
                      as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        y[i] += a * x[i]
        i += 1
    }
}

@inline(__always)
private func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
