import Logging
import MicroLM

/// The MicroLM engine as Narration's model: greedy decoding over one `InferenceSession` whose KV cache
/// keeps the shared prompt prefix between calls, with the constraint applied to the most likely
/// candidates at each step (the first one it allows is taken).
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

    public func complete(_ request: CompletionRequest) throws -> Completion {
        let tokenizer = languageModel.tokenizer
        let prefixTokens = tokens(ofPrefix: request.prefix)
        let prompt = prefixTokens + tokenizer.encode(request.suffix, parseSpecial: true)
        try session.prefill(prompt)

        var bytes: [UInt8] = []
        var produced = 0
        // Each generated token's candidates, for backtracking out of a dead end.
        struct Step {
            var order: [Int32]
            var count: Int
            var taken: Int
            var bytesBefore: Int
        }
        var steps: [Step] = []
        var backtracks = 0
        /// Whether `id` may follow `bytes` (not the end of text: a step taken again only goes on writing).
        func allowedToken(_ id: Int32, after bytes: [UInt8]) -> Bool {
            if tokenizer.isEndOfGeneration(id) || tokenizer.tokenType(id) == .control { return false }
            let piece = tokenizer.tokenBytes(id)
            if bytes.isEmpty, piece.first == 0x0A { return false }
            if Self.text(bytes + piece, dropIncomplete: true).utf8.count != bytes.count + piece.count { return false }
            return request.constraint?(Self.text(bytes + piece, dropIncomplete: true)) ?? true
        }
        /// Out of a dead end: undo tokens until one of them has another allowed candidate, and take that.
        func backtrack() throws -> Bool {
            while backtracks < request.maxBacktracks, var step = steps.popLast() {
                backtracks += 1
                bytes.removeLast(bytes.count - step.bytesBefore)
                produced -= 1
                for k in (step.taken + 1)..<max(step.taken + 1, step.count) where allowedToken(step.order[k], after: bytes) {
                    step.taken = k
                    steps.append(step)
                    bytes += tokenizer.tokenBytes(step.order[k])
                    produced += 1
                    session.reset(keepingPrefix: prompt.count + produced - 1)
                    try session.append([step.order[k]])
                    return true
                }
            }
            return false
        }
        let vocabulary = languageModel.config.vocabularySize
        var order = [Int32](repeating: 0, count: candidates)
        var scores = [Float](repeating: 0, count: candidates)
        while produced < request.maxTokens {
            if let deadline = request.deadline, ContinuousClock.now >= deadline {
                return Completion(text: Self.text(bytes), stop: .deadline, tokens: produced)
            }
            // The `candidates` most likely tokens, best first.
            var count = 0
            session.withLogits { logits in
                for id in 0..<min(vocabulary, logits.count) {
                    let v = logits[id]
                    if count == candidates && v <= scores[count - 1] { continue }
                    var k = count == candidates ? count - 1 : count
                    while k > 0 && scores[k - 1] < v {
                        scores[k] = scores[k - 1]
                        order[k] = order[k - 1]
                        k -= 1
                    }
                    scores[k] = v
                    order[k] = Int32(id)
                    if count < candidates { count += 1 }
                }
            }
            var chosen: Int32?
            var chosenScore: Float = -.infinity
            var ended = false
            // Whether the constraint refused the model's own first choice.
            var firstRefused = false
            var judged = 0
            for k in 0..<count {
                let id = order[k]
                if tokenizer.isEndOfGeneration(id) {
                    if bytes.isEmpty { continue }
                    judged += 1
                    // The constraint sees the end as a newline: it may refuse to end here.
                    if let constraint = request.constraint, !constraint(Self.text(bytes) + "\n") {
                        if judged == 1 { firstRefused = true }
                        continue
                    }
                    ended = true
                    break
                }
                if tokenizer.tokenType(id) == .control { continue }
                let piece = tokenizer.tokenBytes(id)
                if bytes.isEmpty, piece.first == 0x0A { continue }   // an empty alert is no alert
                // A token that ends inside a UTF-8 character could leave half a character behind.
                if Self.text(bytes + piece, dropIncomplete: true).utf8.count != bytes.count + piece.count { continue }
                judged += 1
                if let constraint = request.constraint, !constraint(Self.text(bytes + piece, dropIncomplete: true)) {
                    if judged == 1 { firstRefused = true }
                    continue
                }
                chosen = id
                chosenScore = scores[k]
                break
            }
            if ended { return Completion(text: Self.text(bytes), stop: .endOfText, tokens: produced) }
            if firstRefused, let gap = request.closeGap, let constraint = request.constraint, count > 0,
               chosen == nil || scores[0] - chosenScore > gap, let closed = Self.closed(Self.text(bytes)),
               constraint(closed + "\n") {
                return Completion(text: closed, stop: .sentence, tokens: produced)
            }
            guard let id = chosen else {
                if try backtrack() { continue }
                return Completion(text: Self.text(bytes), stop: .constraint, tokens: produced)
            }
            if request.maxBacktracks > 0 {
                steps.append(Step(order: Array(order[..<count]), count: count,
                                  taken: order[..<count].firstIndex(of: id) ?? count, bytesBefore: bytes.count))
            }
            bytes += tokenizer.tokenBytes(id)
            produced += 1
            let text = Self.text(bytes)
            for stop in request.stop {
                if let range = text.range(of: stop) {
                    return Completion(text: String(text[..<range.lowerBound]), stop: .stopString, tokens: produced)
                }
            }
            if produced < request.maxTokens { try session.append([id]) }
        }
        return Completion(text: Self.text(bytes), stop: .length, tokens: produced)
    }

    /// `text` ended with a full stop where it stands: trailing spaces, commas and semicolons dropped.
    /// Nil when nothing would be left.
    static func closed(_ text: String) -> String? {
        var t = Substring(text)
        while let last = t.last, last == " " || last == "," || last == ";" || last == ":" { t.removeLast() }
        guard !t.isEmpty else { return nil }
        return t.last == "." ? String(t) : t + "."
    }

    /// UTF-8 text of `bytes`; an unfinished multi-byte character at the end is left out when asked.
    static func text(_ bytes: [UInt8], dropIncomplete: Bool = false) -> String {
        var b = bytes[...]
        if dropIncomplete {
            var back = 0
            while back < min(3, b.count), let last = b.dropLast(back).last, last & 0xC0 == 0x80 { back += 1 }
            if let lead = b.dropLast(back).last, lead & 0xC0 == 0xC0 {
                let need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1
                if back < need { b = b.dropLast(back + 1) }
            }
        }
        return String(decoding: b, as: UTF8.self)
    }
}
