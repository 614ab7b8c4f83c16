import Synchronization

/// One conversation with a model: the KV cache, scratch buffers and a thread pool,
/// allocated once. Feed it tokens with `evaluate`/`append`, read the logits after the last
/// one, reuse a shared prompt prefix with `reset(keepingPrefix:)` or `prefill(_:)`, and
/// generate with `generate(...)`/`stream(...)` (Generation+Session.swift).
///
/// A session runs one call at a time; a second concurrent call throws `MicroLMError.sessionBusy`.
/// Its forward pass blocks the calling thread: from async code use `stream`, which runs on a
/// thread of its own.
public final class InferenceSession: @unchecked Sendable {
    public let model: LanguageModel
    /// Positions the KV cache holds.
    public let contextLength: Int
    /// Most tokens one forward pass takes (longer inputs are split into batches of this size).
    public let batchSize: Int
    /// Threads the kernels use (the calling thread included).
    public var threadCount: Int { pool.threadCount }
    /// The tokens whose keys and values are in the cache, in order.
    public private(set) var tokens: [Int32] = []
    /// Whether `logits` belong to the last token of `tokens`.
    public private(set) var hasLogits = false

    let state: RunState
    let pool: ThreadPool
    private let forward: LlamaForward
    private let busy = Atomic<Bool>(false)

    /// - Parameters:
    ///   - contextLength: positions to hold (default: the model's, at most 2048).
    ///   - threads: kernel threads (default: the cores available to the process).
    ///   - batchSize: most tokens per forward pass (1...1024).
    public init(model: LanguageModel, contextLength: Int? = nil, threads: Int? = nil, batchSize: Int = 256) throws {
        self.model = model
        let n = contextLength ?? min(model.config.trainedContextLength, 2048)
        guard n >= 1, n <= 1 << 20 else { throw MicroLMError.contextFull(needed: n, capacity: 1 << 20) }
        self.contextLength = n
        self.batchSize = max(1, min(batchSize, 1024))
        pool = ThreadPool(threads: threads ?? ThreadPool.availableCores)
        state = try RunState(config: model.config, contextLength: n, maxBatch: self.batchSize, threads: pool.threadCount,
                             loraRank: model.adapter?.maxRank ?? 0)
        forward = LlamaForward(config: model.config, weights: model.weights, adapter: model.adapter, state: state, pool: pool)
    }

    /// Appends `newTokens` to the cache (in batches of `batchSize`) and leaves the logits after the
    /// last one for `withLogits`. Throws for an empty input, an id outside the vocabulary or a full context.
    public func append(_ newTokens: [Int32]) throws {
        try exclusive { try appendLocked(newTokens) }
    }

    /// Appends `newTokens` and returns a copy of the logits after the last one.
    @discardableResult
    public func evaluate(_ newTokens: [Int32]) throws -> [Float] {
        try exclusive {
            try appendLocked(newTokens)
            return Array(UnsafeBufferPointer(start: state.logits, count: model.config.vocabularySize))
        }
    }

    /// Calls `body` with the logits after the last evaluated token (empty if there are none).
    public func withLogits<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: state.logits, count: hasLogits ? model.config.vocabularySize : 0))
    }

    /// Forgets all but the first `count` tokens of the cache: a following `append` continues
    /// from there, so a shared prefix (a system prompt, few-shot examples) is computed once.
    public func reset(keepingPrefix count: Int = 0) {
        let keep = max(0, min(count, tokens.count))
        if keep < tokens.count {
            tokens.removeLast(tokens.count - keep)
            hasLogits = false
        }
    }

    /// Makes the cache hold exactly `prompt`, reusing the longest prefix it already has in
    /// common with it, and leaves the logits after the last prompt token. Returns how many
    /// tokens were reused (not recomputed).
    @discardableResult
    public func prefill(_ prompt: [Int32]) throws -> Int {
        guard !prompt.isEmpty else { throw MicroLMError.emptyPrompt }
        return try exclusive { try prefillLocked(prompt) }
    }

    func prefillLocked(_ prompt: [Int32]) throws -> Int {
        var common = 0
        while common < min(prompt.count, tokens.count), prompt[common] == tokens[common] { common += 1 }
        // The logits of the last prompt token are needed: recompute at least that one.
        if common == prompt.count && !(hasLogits && tokens.count == prompt.count) { common -= 1 }
        if common == prompt.count { return common }
        reset(keepingPrefix: common)
        try appendLocked(Array(prompt[common...]))
        return common
    }

    func appendLocked(_ newTokens: [Int32]) throws {
        guard !newTokens.isEmpty else { throw MicroLMError.emptyPrompt }
        let vocab = model.config.vocabularySize
        if let bad = newTokens.first(where: { $0 < 0 || Int($0) >= vocab }) { throw MicroLMError.invalidToken(Int(bad)) }
        guard tokens.count + newTokens.count <= contextLength else {
            throw MicroLMError.contextFull(needed: tokens.count + newTokens.count, capacity: contextLength)
        }
        hasLogits = false
        try newTokens.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                try Task.checkCancellation()
                let end = min(start + batchSize, all.count)
                forward(UnsafeBufferPointer(rebasing: all[start..<end]), at: tokens.count, logits: end == all.count)
                tokens.append(contentsOf: all[start..<end])
                start = end
            }
        }
        hasLogits = true
    }

    func exclusive<R>(_ body: () throws -> R) throws -> R {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw MicroLMError.sessionBusy
        }
        defer { busy.store(false, ordering: .releasing) }
        return try body()
    }
}
