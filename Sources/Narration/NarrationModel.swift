/// What Narration needs from a language model: a greedy continuation of a prompt whose prefix is
/// shared by every call, stopped by stop strings, a token budget or a deadline, and steered by a
/// constraint that says whether the text so far may stand.
/// The MicroLM engine conforms through `MicroLMNarrationModel`; the protocol keeps Narration testable
/// and lets another engine plug in.
public protocol NarrationModel: AnyObject, Sendable {
    /// A short name for alerts (`SmolLM2-135M-Instruct.Q4_1`).
    var name: String { get }
    /// Blocking; called on Narration's model thread, one call at a time.
    func complete(_ request: CompletionRequest) throws -> Completion
    /// Computes and keeps the shared prefix ahead of the first alert (the worker calls it at start).
    func prepare(prefix: String) throws
}

extension NarrationModel {
    public func prepare(prefix: String) throws {}
}

public struct CompletionRequest: Sendable {
    /// Identical across calls: its KV cache may be kept and reused.
    public var prefix: String
    public var suffix: String
    public var stop: [String]
    public var maxTokens: Int
    /// Stop generating (and return what exists) once this instant has passed.
    public var deadline: ContinuousClock.Instant?
    /// Called with the text generated so far plus a candidate token's text; the engine takes the most
    /// likely token for which it returns true.
    public var constraint: (@Sendable (String) -> Bool)?
    /// The sentence-boundary stop rule: when the constraint refuses the model's own first choice and
    /// the best token it allows is more than this many logits less likely, the model is being pushed
    /// off its course; if the text so far, closed with a full stop, is a complete acceptable alert
    /// (the constraint allows it followed by a newline), generation ends there. Nil: never.
    public var closeGap: Float?
    /// At a dead end (the constraint allows none of the candidates and the text cannot close), undo
    /// tokens and take the next allowed candidate instead, at most this many times per alert.
    public var maxBacktracks: Int

    public init(prefix: String, suffix: String, stop: [String], maxTokens: Int,
                deadline: ContinuousClock.Instant?, constraint: (@Sendable (String) -> Bool)?,
                closeGap: Float? = nil, maxBacktracks: Int = 0) {
        self.maxBacktracks = max(0, maxBacktracks)
        self.prefix = prefix
        self.suffix = suffix
        self.stop = stop
        self.maxTokens = maxTokens
        self.deadline = deadline
        self.constraint = constraint
        self.closeGap = closeGap
    }
}

public struct Completion: Sendable, Equatable {
    public enum Stop: String, Sendable, Codable {
        case stopString = "stop"
        case length
        case deadline
        case endOfText = "eos"
        case constraint
        /// Closed with a full stop by the sentence-boundary stop rule.
        case sentence
    }

    public var text: String
    public var stop: Stop
    public var tokens: Int

    public init(text: String, stop: Stop, tokens: Int) {
        self.text = text
        self.stop = stop
        self.tokens = tokens
    }
}
