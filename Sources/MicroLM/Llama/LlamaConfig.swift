/// Hyper-parameters of a llama-family model, read from GGUF metadata.
public struct LlamaConfig: Sendable, Equatable {
    /// Transformer blocks (`llama.block_count`).
    public var blockCount: Int
    /// Width of the residual stream (`llama.embedding_length`).
    public var embeddingLength: Int
    /// Hidden width of the feed-forward network (`llama.feed_forward_length`).
    public var feedForwardLength: Int
    /// Query heads (`llama.attention.head_count`).
    public var headCount: Int
    /// Key/value heads (`llama.attention.head_count_kv`); query head h uses KV head h / (headCount / headCountKV).
    public var headCountKV: Int
    /// Width of one head: embeddingLength / headCount.
    public var headDimension: Int
    /// Rotated dimensions per head (`llama.rope.dimension_count`, default the head width).
    public var ropeDimensionCount: Int
    /// RoPE frequency base (`llama.rope.freq_base`, default 10000).
    public var ropeFrequencyBase: Float
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    public var rmsNormEpsilon: Float
    /// Tokens in the vocabulary (rows of the token embedding).
    public var vocabularySize: Int
    /// Context length the model was trained for (`llama.context_length`).
    public var trainedContextLength: Int

    /// Width of the keys and values of one position: headCountKV * headDimension.
    public var kvDimension: Int { headCountKV * headDimension }

    /// Reads the configuration of `file`; throws `MicroLMError.badMetadata` for missing or
    /// inconsistent values.
    public init(file: GGUFFile) throws {
        let arch = file.architecture ?? "llama"
        guard arch == "llama" else { throw MicroLMError.unsupportedArchitecture(arch) }
        func int(_ suffix: String, default value: Int? = nil) throws -> Int {
            let key = file.archKey(suffix)
            guard let v = file.int(key) ?? value else { throw MicroLMError.badMetadata(key: key, reason: "missing") }
            guard v > 0, v < 1 << 24 else { throw MicroLMError.badMetadata(key: key, reason: "value \(v) out of range") }
            return v
        }
        blockCount = try int("block_count")
        embeddingLength = try int("embedding_length")
        feedForwardLength = try int("feed_forward_length")
        headCount = try int("attention.head_count")
        headCountKV = try int("attention.head_count_kv", default: headCount)
        trainedContextLength = try int("context_length", default: 2048)
        guard embeddingLength % headCount == 0, headCount % headCountKV == 0 else {
            throw MicroLMError.badMetadata(key: file.archKey("attention.head_count"),
                                           reason: "heads do not divide the width evenly")
        }
        headDimension = embeddingLength / headCount
        guard headDimension % 8 == 0 else {
            throw MicroLMError.badMetadata(key: file.archKey("attention.head_count"),
                                           reason: "head width \(headDimension) is not a multiple of 8")
        }
        ropeDimensionCount = try int("rope.dimension_count", default: headDimension)
        guard ropeDimensionCount <= headDimension, ropeDimensionCount % 2 == 0 else {
            throw MicroLMError.badMetadata(key: file.archKey("rope.dimension_count"), reason: "must be even and at most the head width")
        }
        let baseKey = file.archKey("rope.freq_base"), epsKey = file.archKey("attention.layer_norm_rms_epsilon")
        ropeFrequencyBase = file.float(baseKey) ?? 10000
        guard ropeFrequencyBase.isFinite, ropeFrequencyBase > 1 else {
            throw MicroLMError.badMetadata(key: baseKey, reason: "must be a finite number above 1")
        }
        guard let eps = file.float(epsKey), eps.isFinite, eps > 0, eps < 1 else {
            throw MicroLMError.badMetadata(key: epsKey, reason: "missing or not in (0, 1)")
        }
        rmsNormEpsilon = eps
        guard let embedding = file.tensor(named: "token_embd.weight"), embedding.dimensions.count == 2 else {
            throw MicroLMError.badTensor(name: "token_embd.weight", reason: "missing or not a matrix")
        }
        vocabularySize = embedding.dimensions[1]
    }
}
