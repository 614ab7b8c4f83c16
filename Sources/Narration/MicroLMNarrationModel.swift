import Logging
import MicroLM

/// The MicroLM engine as Narration's model, a thin adapter: one `InferenceSession` whose KV cache keeps
/// the shared prompt prefix between calls, and MicroLM's generation loop steered by a `TextConstraint`
/// (the most likely candidate the constraint allows is taken at each step).
public final class MicroLMNarrationModel: NarrationModel, @unchecked Sendable {
    public let name: String
    public let languageModel: LanguageModel
    /// Used only from Narration's model queue, one call at a time (`@unchecked Sendable` rests on that).
    private let session: InferenceSession
    /// How many of the most likely tokens the constraint is asked about before giving up.
    public let candidates: Int
    private var prefixCache: (text: String, tokens: [Int32])?

    public init(model: LanguageModel, threads: Int? = nil, contextLength: Int = 2048, candidates: Int = 64) throws {
        languageModel = model
        session = try InferenceSession(model: model, contextLength: contextLength, threads: threads)
        self.candidates = max(1, candidates)
        var base = Substring(model.path.split(separator: "/").last ?? "model")
        if base.hasSuffix(".gguf") { base = base.dropLast(5) }
        name = String(base)
    }

    /// Loads the model at `path`, with the LoRA adapter at `adapter` applied when one is given
    /// (refused unless its SHA-256 is `adapterSHA256`, when that is given).
    public static func load(path: String, adapter: String? = nil, adapterSHA256: String? = nil,
                            threads: Int? = nil, logger: Logger) throws -> MicroLMNarrationModel {
        try MicroLMNarrationModel(model: LanguageModel.load(path: path, adapter: adapter, adapterSHA256: adapterSHA256,
                                                           logger: logger), threads: threads)
    }

    /// The prefix's tokens (BOS included), tokenized once per distinct prefix.
    private func tokens(ofPrefix prefix: String) -> [Int32] {
        if let cached = prefixCache, cached.text == prefix { return cached.tokens }
        let tokenizer = languageModel.tokenizer
        let tokens = (tokenizer.addBOS ? tokenizer.bosID.map { [$0] } ?? [] : [])
            + tokenizer.encode(prefix, parseSpecial: true)
        prefixCache = (prefix, tokens)
        return tokens
    }

    /// Runs the shared prefix through the model now, so that the first alert reuses its KV cache.
    public func prepare(prefix: String) throws {
        let tokens = tokens(ofPrefix: prefix)
        guard !tokens.isEmpty else { return }
        try session.prefill(tokens)
    }

    /// How many tokens the prefix is (for reports).
    public func prefixTokenCount(_ prefix: String) -> Int { tokens(ofPrefix: prefix).count }

    /// One generation through MicroLM's loop, always steered by a `TextConstraint` (one that allows
    /// everything when the request has none), so the rules of an alert hold either way: no control tokens,
    /// no empty text, no half characters.
    public func complete(_ request: CompletionRequest) throws -> Completion {
        let prompt = tokens(ofPrefix: request.prefix) + languageModel.tokenizer.encode(request.suffix, parseSpecial: true)
        let constraint = TextConstraint(candidates: candidates, closeGap: request.constraint == nil ? nil : request.closeGap,
                                        maxBacktracks: request.maxBacktracks, allows: request.constraint ?? { _ in true })
        let options = GenerationOptions(maxTokens: request.maxTokens, stopStrings: request.stop, deadline: request.deadline,
                                        constraint: constraint)
        let result = try session.generate(.tokens(prompt), options: options)
        let stop: Completion.Stop = switch result.finishReason {
        case .stopString: .stopString
        case .maxTokens, .contextFull: .length
        case .deadline, .cancelled: .deadline
        case .stopToken: .endOfText
        case .constraint, .noAllowedToken: .constraint
        case .sentence: .sentence
        }
        return Completion(text: result.text, stop: stop, tokens: result.tokens.count)
    }
}
