/// How the next token is chosen from the logits.
///
/// Order (as llama.cpp's default chain): logit processor, repetition penalty, then greedy
/// when `temperature <= 0`; otherwise top-k, softmax at `temperature`, top-p, min-p, and a
/// draw from a generator seeded with `seed` (same seed, same tokens).
public struct SamplingOptions: Sendable, Equatable {
    /// 0 (or below) picks the most likely token (greedy); higher values flatten the distribution.
    public var temperature: Float
    /// Keep only the k most likely tokens (0 = all).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probabilities add up to at least p (1 = all).
    public var topP: Float
    /// Drop tokens less likely than minP times the most likely one (0 = none).
    public var minP: Float
    /// Divides positive logits and multiplies negative ones of recently seen tokens (1 = off).
    public var repetitionPenalty: Float
    /// How many of the last tokens (prompt included) the penalty looks at.
    public var repetitionWindow: Int
    /// Seed of the random generator.
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    /// Always the most likely token: deterministic.
    public static let greedy = SamplingOptions()
}

/// When generation stops, and what it may produce.
public struct GenerationOptions: Sendable {
    /// Most tokens to generate.
    public var maxTokens: Int
    public var sampling: SamplingOptions
    /// Tokens that end generation (not part of the text). nil: the model's end-of-generation tokens.
    public var stopTokens: Set<Int32>?
    /// Texts that end generation; the text returned ends before the first one found.
    public var stopStrings: [String]
    /// Generation stops (reason `.deadline`) once this instant has passed; checked before each forward pass.
    public var deadline: ContinuousClock.Instant?
    /// Chooses each token greedily among the most likely ones the constraint allows, instead of `sampling`.
    public var constraint: TextConstraint?

    public init(maxTokens: Int = 256, sampling: SamplingOptions = .greedy, stopTokens: Set<Int32>? = nil,
                stopStrings: [String] = [], deadline: ContinuousClock.Instant? = nil, constraint: TextConstraint? = nil) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopTokens = stopTokens
        self.stopStrings = stopStrings
        self.deadline = deadline
        self.constraint = constraint
    }
}

/// Why generation ended.
public enum FinishReason: Sendable, Equatable {
    /// The model produced a stop token (not included in the result).
    case stopToken(Int32)
    /// The text reached a stop string (cut before it).
    case stopString(String)
    case maxTokens
    /// The deadline passed.
    case deadline
    /// The caller's task (or the stream's consumer) was cancelled.
    case cancelled
    /// The session's context is full.
    case contextFull
    /// The logit processor forbade every token.
    case noAllowedToken
    /// The constraint allowed none of the candidates and backtracking found no other way.
    case constraint
    /// The constraint's sentence-boundary rule closed the text with a full stop (`TextConstraint.closeGap`).
    case sentence
}

/// What a generation produced.
public struct GenerationResult: Sendable {
    /// The generated text (stop token and stop string excluded).
    public var text: String
    /// The generated tokens (the stop token excluded).
    public var tokens: [Int32]
    public var finishReason: FinishReason
    /// Tokens of the prompt.
    public var promptTokenCount: Int
    /// Prompt tokens found in the KV cache from an earlier request (not recomputed).
    public var reusedPromptTokenCount: Int
    /// Seconds spent on the prompt (the part not reused).
    public var promptSeconds: Double
    /// Seconds spent generating.
    public var generationSeconds: Double

    /// Generated tokens per second.
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(tokens.count) / generationSeconds : 0 }
}

/// What a logit processor sees besides the logits.
public struct LogitContext: Sendable {
    /// The prompt's tokens.
    public let promptTokens: [Int32]
    /// Tokens generated so far.
    public let generatedTokens: [Int32]
    /// Text generated so far (whole characters only).
    public let text: String
}

/// Called before each token is chosen with the raw logits (vocabulary size), which it may change
/// in place: set an entry to `-Float.infinity` to forbid that token, add to bias it. Runs on the
/// generation thread.
public typealias LogitProcessor = @Sendable (_ logits: UnsafeMutableBufferPointer<Float>, _ context: LogitContext) -> Void
