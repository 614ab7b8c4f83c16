/// Steers greedy generation by a judgement on the text: at each step the `candidates` most likely tokens
/// are offered, best first, and the first whose text the constraint allows is taken. Narration uses it
/// to keep the model on the facts; any caller may.
///
/// - The end of generation (a stop token) is offered to `allows` as the text followed by "\n": the
///   constraint may refuse to end there.
/// - Control tokens, a first token that starts a new line, and tokens that end inside a UTF-8 character
///   are never taken; a constrained text never ends before its first character.
/// - `closeGap`: when the constraint refuses the model's own first choice and the best token it allows
///   is more than this many logits less likely, the model is being pushed off its course; if the text so
///   far, closed with a full stop, is allowed followed by "\n", generation ends there (`.sentence`).
/// - `maxBacktracks`: at a dead end (nothing allowed, no close), tokens are undone until one of them has
///   another allowed candidate, which is taken instead, at most this many times per generation; then
///   generation ends (`.constraint`). With backtracking the text streamed so far may be taken back, so
///   `onToken` gets the text once, at the end.
public struct TextConstraint: Sendable {
    public var allows: @Sendable (String) -> Bool
    public var candidates: Int
    public var closeGap: Float?
    public var maxBacktracks: Int

    public init(candidates: Int = 64, closeGap: Float? = nil, maxBacktracks: Int = 0, allows: @escaping @Sendable (String) -> Bool) {
        self.allows = allows
        self.candidates = max(1, candidates)
        self.closeGap = closeGap
        self.maxBacktracks = max(0, maxBacktracks)
    }

    /// `text` ended with a full stop where it stands: trailing spaces, commas, colons and semicolons
    /// dropped. Nil when nothing would be left.
    public static func closed(_ text: String) -> String? {
        var t = Substring(text)
        while let last = t.last, last == " " || last == "," || last == ";" || last == ":" { t.removeLast() }
        guard !t.isEmpty else { return nil }
        return t.last == "." ? String(t) : t + "."
    }
}

/// The state of a constrained generation: the candidates of each step taken (for backtracking) and the
/// scratch space of the ranking, allocated once.
struct ConstrainedChooser {
    enum Choice {
        case token(Int32)
        /// A stop token the constraint lets end the text.
        case end(Int32)
        /// The text so far, closed with a full stop (`TextConstraint.closeGap`).
        case close(String)
        case deadEnd
    }

    /// One generated token's candidates, best first, and which was taken.
    private struct Step {
        var order: [Int32]
        var taken: Int
        var bytesBefore: Int
    }

    let constraint: TextConstraint
    let tokenizer: Tokenizer
    let stopTokens: Set<Int32>
    private var order: [Int32]
    private var scores: [Float]
    private var steps: [Step] = []
    private(set) var backtracks = 0

    init(constraint: TextConstraint, tokenizer: Tokenizer, stopTokens: Set<Int32>) {
        self.constraint = constraint
        self.tokenizer = tokenizer
        self.stopTokens = stopTokens
        order = [Int32](repeating: 0, count: constraint.candidates)
        scores = [Float](repeating: 0, count: constraint.candidates)
    }

    /// The text of `bytes` followed by `id`'s bytes when that is whole, valid UTF-8 the constraint may
    /// judge; nil for a token that is never taken.
    private func candidateText(_ id: Int32, after bytes: [UInt8]) -> String? {
        if tokenizer.tokenType(id) == .control { return nil }
        let piece = tokenizer.tokenBytes(id)
        if bytes.isEmpty, piece.first == 0x0A { return nil }
        return String(validating: bytes + piece, as: UTF8.self)
    }

    /// Chooses the next token from `logits` after the generated `bytes`.
    mutating func choose(_ logits: UnsafeMutableBufferPointer<Float>, after bytes: [UInt8]) -> Choice {
        // The `candidates` most likely tokens, best first (ties: the lower id first).
        let capacity = constraint.candidates
        var count = 0
        order.withUnsafeMutableBufferPointer { order in
            scores.withUnsafeMutableBufferPointer { scores in
                for id in 0..<logits.count {
                    let v = logits[id]
                    if count == capacity && v <= scores[count - 1] { continue }
                    var k = count == capacity ? count - 1 : count
                    while k > 0 && scores[k - 1] < v {
                        scores[k] = scores[k - 1]
                        order[k] = order[k - 1]
                        k -= 1
                    }
                    scores[k] = v
                    order[k] = Int32(id)
                    if count < capacity { count += 1 }
                }
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var chosen: Int?
        var firstRefused = false  // the constraint refused the model's own first choice
        var judged = 0
        for k in 0..<count {
            let id = order[k]
            if stopTokens.contains(id) {
                if bytes.isEmpty { continue }
                judged += 1
                if constraint.allows(text + "\n") { return .end(id) }
                if judged == 1 { firstRefused = true }
                continue
            }
            guard let candidate = candidateText(id, after: bytes) else { continue }
            judged += 1
            if constraint.allows(candidate) {
                chosen = k
                break
            }
            if judged == 1 { firstRefused = true }
        }
        if firstRefused, let gap = constraint.closeGap, count > 0,
           chosen.map({ scores[0] - scores[$0] > gap }) ?? true,
           let closed = TextConstraint.closed(text), constraint.allows(closed + "\n") {
            return .close(closed)
        }
        guard let k = chosen else { return .deadEnd }
        if constraint.maxBacktracks > 0 {
            steps.append(Step(order: Array(order[..<count]), taken: k, bytesBefore: bytes.count))
        }
        return .token(order[k])
    }

    /// Out of a dead end: undoes steps until one has another allowed candidate. Returns how many tokens
    /// to keep of those generated (the replacement is the last of them) and the replacement, having cut
    /// `bytes` to match; nil when the budget is spent or no step has another way.
    mutating func backtrack(_ bytes: inout [UInt8]) -> (keep: Int, replacement: Int32)? {
        while backtracks < constraint.maxBacktracks, var step = steps.popLast() {
            backtracks += 1
            bytes.removeLast(bytes.count - step.bytesBefore)
            for k in (step.taken + 1)..<max(step.taken + 1, step.order.count)
            where !stopTokens.contains(step.order[k]) && candidateText(step.order[k], after: bytes).map(constraint.allows) == true {
                step.taken = k
                steps.append(step)
                bytes += tokenizer.tokenBytes(step.order[k])
                return (steps.count, step.order[k])
            }
        }
        return nil
    }
}
