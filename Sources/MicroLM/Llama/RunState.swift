import CMicroLMKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every buffer the forward pass writes: activations for a batch of up to `maxBatch`
/// tokens, the quantized activations, the logits and the KV cache. Allocated once when a
/// session starts; the forward pass allocates nothing.
final class RunState {
    let maxBatch: Int
    let contextLength: Int
    let x: UnsafeMutablePointer<Float>  // [maxBatch][dim] residual stream
    let xb: UnsafeMutablePointer<Float>  // [maxBatch][dim] normed input / projection output
    let q: UnsafeMutablePointer<Float>  // [maxBatch][dim] queries
    let k: UnsafeMutablePointer<Float>  // [maxBatch][kvDim] keys of the batch
    let v: UnsafeMutablePointer<Float>  // [maxBatch][kvDim] values of the batch
    let att: UnsafeMutablePointer<Float>  // [maxBatch][dim] attention output
    let hb: UnsafeMutablePointer<Float>  // [maxBatch][ffn] gate, then silu(gate) * up
    let hb2: UnsafeMutablePointer<Float>  // [maxBatch][ffn] up
    let xq: UnsafeMutablePointer<mlk_block_q8a>  // [maxBatch][max(dim, ffn) / 32] quantized activations
    let logits: UnsafeMutablePointer<Float>  // [vocab] after the last token of the last batch
    let keyCache: UnsafeMutablePointer<UInt16>  // [layer][contextLength][kvDim] halves
    let valueCache: UnsafeMutablePointer<UInt16>  // [layer][contextLength][kvDim] halves
    let attentionScratch: UnsafeMutablePointer<Float>  // [threads][contextLength + 2 * headDim] scores, query
    let ropeCos: UnsafeMutablePointer<Float>  // [maxBatch][ropeDim / 2]
    let ropeSin: UnsafeMutablePointer<Float>  // [maxBatch][ropeDim / 2]
    let inverseFrequency: [Double]  // [ropeDim / 2]: base^(-2i / ropeDim)
    let loraMaxRank: Int  // the adapter's largest rank, 0 without one
    let loraRank: UnsafeMutablePointer<Float>  // [3][maxBatch][loraMaxRank] A · x of up to three pairs

    init(config c: LlamaConfig, contextLength: Int, maxBatch: Int, threads: Int, loraRank: Int = 0) throws {
        self.maxBatch = maxBatch
        self.contextLength = contextLength
        let dim = c.embeddingLength, kv = c.kvDimension, ffn = c.feedForwardLength
        func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        x = floats(maxBatch * dim)
        xb = floats(maxBatch * dim)
        q = floats(maxBatch * dim)
        k = floats(maxBatch * kv)
        v = floats(maxBatch * kv)
        att = floats(maxBatch * dim)
        hb = floats(maxBatch * ffn)
        hb2 = floats(maxBatch * ffn)
        xq = .allocate(capacity: maxBatch * max(dim, ffn) / 32)
        logits = floats(c.vocabularySize)
        attentionScratch = floats(threads * (contextLength + 2 * c.headDimension))
        loraMaxRank = loraRank
        self.loraRank = floats(max(1, 3 * maxBatch * loraRank))
        let half = c.ropeDimensionCount / 2
        ropeCos = floats(maxBatch * half)
        ropeSin = floats(maxBatch * half)
        inverseFrequency = (0..<half).map { i in
            Double(c.ropeFrequencyBase).pow(-2.0 * Double(i) / Double(c.ropeDimensionCount))
        }
        // The cache is the one large buffer: calloc leaves untouched pages unmapped, so a
        // short conversation costs little memory whatever the context length.
        let cacheCount = c.blockCount * contextLength * kv
        guard let kc = calloc(cacheCount, 2), let vc = calloc(cacheCount, 2) else {
            throw MicroLMError.contextFull(needed: contextLength, capacity: 0)
        }
        keyCache = kc.assumingMemoryBound(to: UInt16.self)
        valueCache = vc.assumingMemoryBound(to: UInt16.self)
    }

    deinit {
        for p in [x, xb, q, k, v, att, hb, hb2, logits, attentionScratch, ropeCos, ropeSin, loraRank] { p.deallocate() }
        xq.deallocate()
        free(keyCache)
        free(valueCache)
    }
}

extension Double {
    fileprivate func pow(_ e: Double) -> Double { exp(e * log(self)) }
}
