import Synchronization

/// Set from another thread to stop a running generation (the stream's consumer went away).
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

extension InferenceSession {
    /// Generates from `prompt` on the calling thread (it blocks; from async code prefer `stream`).
    ///
    /// The prompt's longest common prefix with the cache is reused, so a fixed prefix shared by
    /// successive requests (system prompt, few-shot examples) is computed once. `onToken` gets each
    /// token with the text it completes (stop strings held back) and may return false to stop.
    public func generate(
        _ prompt: Prompt, options: GenerationOptions = GenerationOptions(), logitProcessor: LogitProcessor? = nil,
        onToken: ((Int32, String) -> Bool)? = nil
    ) throws -> GenerationResult {
        let ids = model.tokens(for: prompt)
        return try exclusive {
            try generateLocked(ids, options: options, logitProcessor: logitProcessor, cancellation: nil, onToken: onToken)
        }
    }

    /// The one generation loop (`generate`, `stream`, and narration through `generate(tokens:)`): the next
    /// token is chosen by the constraint when there is one (`TextConstraint`), else by the sampler.
    func generateLocked(
        _ promptIDs: [Int32], options: GenerationOptions, logitProcessor: LogitProcessor?,
        cancellation: CancellationFlag?, onToken: ((Int32, String) -> Bool)?
    ) throws -> GenerationResult {
        guard !promptIDs.isEmpty else { throw MicroLMError.emptyPrompt }
        let clock = ContinuousClock()
        var result = GenerationResult(text: "", tokens: [], finishReason: .maxTokens, promptTokenCount: promptIDs.count,
                                      reusedPromptTokenCount: 0, promptSeconds: 0, generationSeconds: 0)
        func stopRequested() -> FinishReason? {
            if cancellation?.isCancelled == true || Task.isCancelled { return .cancelled }
            if let deadline = options.deadline, clock.now >= deadline { return .deadline }
            return nil
        }
        if let reason = stopRequested() {
            result.finishReason = reason
            return result
        }
        guard promptIDs.count < contextLength else {
            throw MicroLMError.contextFull(needed: promptIDs.count + 1, capacity: contextLength)
        }
        var start = clock.now
        result.reusedPromptTokenCount = try prefillLocked(promptIDs)
        result.promptSeconds = (clock.now - start) / .seconds(1)
        start = clock.now

        let tokenizer = model.tokenizer
        let stopTokens = options.stopTokens ?? tokenizer.endOfGenerationIDs
        var sampler = Sampler(options: options.sampling)
        var chooser = options.constraint.map { ConstrainedChooser(constraint: $0, tokenizer: tokenizer, stopTokens: stopTokens) }
        // With backtracking, streamed text could be taken back: it is handed over once, at the end.
        let streaming = (options.constraint?.maxBacktracks ?? 0) == 0 ? onToken : nil
        var bytes: [UInt8] = []  // everything generated (control tokens render as nothing)
        var text = ""  // its whole characters
        var decoded = 0  // bytes of `bytes` that `text` holds
        let longestStop = options.stopStrings.map(\.count).max() ?? 0
        var emitted = 0  // characters of `text` already handed to onToken
        let vocab = model.config.vocabularySize
        var finished = false
        while !finished {
            if result.tokens.count >= options.maxTokens { result.finishReason = .maxTokens; break }
            if let reason = stopRequested() { result.finishReason = reason; break }
            let logits = UnsafeMutableBufferPointer(start: state.logits, count: vocab)
            if let logitProcessor {
                logitProcessor(logits, LogitContext(promptTokens: promptIDs, generatedTokens: result.tokens, text: text))
            }
            let next: Int32
            if chooser != nil {
                switch chooser!.choose(logits, after: bytes) {
                case .token(let id):
                    next = id
                case .end(let id):
                    result.finishReason = .stopToken(id)
                    finished = true
                    continue
                case .close(let closed):
                    bytes = Array(closed.utf8)
                    result.finishReason = .sentence
                    finished = true
                    continue
                case .deadEnd:
                    guard let (keep, replacement) = chooser!.backtrack(&bytes) else {
                        result.finishReason = .constraint
                        finished = true
                        continue
                    }
                    result.tokens.removeLast(result.tokens.count - keep + 1)
                    result.tokens.append(replacement)
                    decoded = StreamingDecoder.completePrefixLength(bytes)
                    text = String(decoding: bytes[..<decoded], as: UTF8.self)
                    reset(keepingPrefix: promptIDs.count + keep - 1)
                    try appendLocked([replacement])
                    continue
                }
            } else {
                guard let sampled = sampler.sample(logits, history: tokens[...]) else {
                    result.finishReason = .noAllowedToken
                    break
                }
                if stopTokens.contains(sampled) { result.finishReason = .stopToken(sampled); break }
                next = sampled
            }
            result.tokens.append(next)
            tokenizer.appendBytes(of: next, renderSpecial: false, to: &bytes)
            // The new whole characters; a stop string can only end in them.
            let searchFrom = max(0, text.count - longestStop + 1)
            let cut = StreamingDecoder.completePrefixLength(bytes)
            if cut > decoded {
                text += String(decoding: bytes[decoded..<cut], as: UTF8.self)
                decoded = cut
            }
            // Stop strings: cut at the first one; otherwise hold back a tail that may start one.
            if let (stop, range) = firstStop(in: text, from: searchFrom, options.stopStrings) {
                text = String(text[..<range.lowerBound])
                result.finishReason = .stopString(stop)
                if let streaming {
                    if text.count > emitted { _ = streaming(next, String(text.dropFirst(emitted))) }
                    emitted = text.count
                }
                break
            }
            let safe = text.count - heldBack(text, options.stopStrings)
            if let streaming {
                let piece = safe > emitted ? String(text.dropFirst(emitted).prefix(safe - emitted)) : ""
                emitted = max(emitted, safe)
                if !streaming(next, piece) { result.finishReason = .cancelled; break }
            }
            if result.tokens.count >= options.maxTokens { result.finishReason = .maxTokens; break }
            if tokens.count >= contextLength { result.finishReason = .contextFull; break }
            try appendLocked([next])
        }
        if case .stopString = result.finishReason {} else {
            text = String(decoding: bytes, as: UTF8.self)
        }
        if let onToken, text.count > emitted, let last = result.tokens.last { _ = onToken(last, String(text.dropFirst(emitted))) }
        result.text = text
        result.generationSeconds = (clock.now - start) / .seconds(1)
        return result
    }
}

/// The first stop string in `text` (earliest position) that starts at character `start` or later.
private func firstStop(in text: String, from start: Int, _ stops: [String]) -> (String, Range<String.Index>)? {
    var best: (String, Range<String.Index>)?
    let first = text.index(text.startIndex, offsetBy: min(start, text.count))
    for stop in stops where !stop.isEmpty {
        var i = first
        while i < text.endIndex, best.map({ i < $0.1.lowerBound }) ?? true {
            if text[i...].hasPrefix(stop) {
                best = (stop, i..<(text.index(i, offsetBy: stop.count)))
                break
            }
            i = text.index(after: i)
        }
    }
    return best
}

/// Characters at the end of `text` that could be the beginning of a stop string.
private func heldBack(_ text: String, _ stops: [String]) -> Int {
    var longest = 0
    for stop in stops where !stop.isEmpty {
        var n = min(stop.count - 1, text.count)
        while n > longest {
            if text.hasSuffix(stop.prefix(n)) { longest = n; break }
            n -= 1
        }
    }
    return longest
}

