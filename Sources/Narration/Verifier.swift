import Telemetry

/// The verifier's judgement of one text.
public struct Verdict: Sendable, Codable, Equatable {
    /// Every problem found; the text is accepted only when there is none.
    public var problems: [String]
    /// The text names the event's sensor.
    public var namesSensor: Bool
    /// The text states a direction for the event's sensor and it is the right one
    /// (true when the event has no direction and none is stated).
    public var rightDirection: Bool

    public var accepted: Bool { problems.isEmpty }
    /// The first problem, as the reason the template replaced the text.
    public var reason: String? { problems.first }
}

/// Checks a text against the facts it should say. Nothing reaches the operator unless every
/// number is a fact said with its unit of its own sensor, every name is the event's, every direction
/// is right, and there is no repetition, instruction or speculation beyond the catalog's causes.
public struct Verifier: Sendable {
    public let facts: Facts
    /// Names from the catalog that are not part of this event (other machines and sensors).
    public let foreignNames: [String]
    public var maxCharacters = 320
    public var maxSentences = 2

    private let lexer: Lexer
    /// Computed once per event: generation asks for them at every token.
    let allowedWords: Set<String>
    let allowedEquipment: Set<String>

    public init(facts: Facts, foreignNames: [String] = []) {
        self.facts = facts
        self.foreignNames = foreignNames
        lexer = Lexer(facts: facts, foreignNames: foreignNames)
        allowedWords = Verifier.allowedWords(facts)
        allowedEquipment = Verifier.allowedEquipment(facts)
    }

    /// `foreignNames` from the catalog: every asset and sensor name that is not in `facts`.
    public init(facts: Facts, catalog: Catalog) {
        let own = Set(([facts.asset, facts.sensor] + facts.related.map(\.name)).map { $0.lowercased() })
        var foreign: [String] = []
        for a in catalog.assets { foreign.append(Sanitizer.name(a.name, fallback: "")) }
        for s in catalog.sensors { foreign.append(Sanitizer.name(s.name, fallback: "")) }
        self.init(facts: facts, foreignNames: foreign.filter { !$0.isEmpty && !own.contains($0.lowercased()) })
    }

    public func verify(_ text: String) -> Verdict {
        check(Array(Alphabet.normalize(text)), partial: false)
    }

    /// Whether `text`, the beginning of an alert still being written, can still become acceptable as far
    /// as what is already there goes: used to steer generation. Text after a newline is ignored (the
    /// newline ends generation). The last word or number may be unfinished and is judged leniently.
    public func allowsPrefix(_ text: String) -> Bool {
        var chars = Array(Alphabet.normalize(text))
        if let newline = chars.firstIndex(of: "\n") { chars.removeSubrange(newline...) }
        if let start = lexer.unfinishedNameStart(chars) {
            chars.removeSubrange(start...)
            while chars.last == " " { chars.removeLast() }
        }
        // `48.` may end a sentence or be a decimal point still to be followed by digits.
        if chars.count >= 2, chars.last == ".", chars[chars.count - 2].isNumber {
            if check(chars, partial: true).accepted { return true }
            chars.removeLast()
            return check(chars, partial: true, pendingDecimalPoint: true).accepted
        }
        return check(chars, partial: true).accepted
    }

    /// The passes over a text: its surface (length, characters), its sentences, the walk over its tokens
    /// (`VerifierWalk`), and the patterns of the whole (repetition, lists of numbers).
    private func check(_ chars: [Character], partial: Bool, pendingDecimalPoint: Bool = false) -> Verdict {
        if chars.isEmpty {
            return Verdict(problems: partial ? [] : ["empty text"], namesSensor: false, rightDirection: false)
        }
        let items = lexer.lex(chars)
        var walk = VerifierWalk(verifier: self, chars: chars, items: items, partial: partial, pendingDecimalPoint: pendingDecimalPoint)
        walk.run()
        let problems = surfaceProblems(chars) + sentenceProblems(items, partial: partial) + walk.problems
            + patternProblems(items, sequence: partial ? Array(walk.sequence.dropLast()) : walk.sequence)
        var unique: [String] = []
        for p in problems where !unique.contains(p) { unique.append(p) }
        return Verdict(problems: unique, namesSensor: walk.namesSensor, rightDirection: walk.rightDirection)
    }

    private func surfaceProblems(_ chars: [Character]) -> [String] {
        var problems: [String] = []
        if chars.count > maxCharacters { problems.append("too long (\(chars.count) characters)") }
        if let c = chars.first(where: { !Verifier.allowedCharacter($0) }) {
            problems.append("unexpected character \(c.unicodeScalars.first.map { "U+" + String($0.value, radix: 16) } ?? "?")")
        }
        return problems
    }

    /// At most `maxSentences`, and a whole text ends with a full stop.
    private func sentenceProblems(_ items: [Lexer.Item], partial: Bool) -> [String] {
        let tooMany = "more than \(maxSentences) sentences"
        let ends = items.indices.filter { items[$0].token == .sentenceEnd }
        var problems: [String] = []
        if maxSentences > 0, ends.count >= maxSentences, ends[maxSentences - 1] < items.count - 1 { problems.append(tooMany) }
        if !partial, items.last?.token != .sentenceEnd {
            problems.append("does not end with a full stop")
            if ends.count + 1 > maxSentences, !problems.contains(tooMany) { problems.append(tooMany) }
        }
        return problems
    }

    /// A phrase said twice, and three numbers with no word between them (a list, not a sentence).
    private func patternProblems(_ items: [Lexer.Item], sequence: [String]) -> [String] {
        var problems: [String] = []
        if let repeated = Verifier.repeatedPhrase(sequence) { problems.append("repeats \"\(repeated)\"") }
        var run = 0
        for item in items {
            switch item.token {
            case .number: run += 1
            case .punctuation: break
            default: run = 0
            }
            if run >= 3 { return problems + ["lists numbers"] }
        }
        return problems
    }

    /// Whether a number still being written can become one of `subject`'s facts, the duration or the time.
    func couldBecomeFact(_ written: String, subject: SensorID, roles: Set<FactNumber.Role>?) -> Bool {
        let texts = facts.numbers.filter { fact in
            if fact.role == .duration { return roles?.contains(.duration) ?? false }
            return fact.sensor == subject && (roles?.contains(fact.role) ?? true)
        }.map(\.text)
        if facts.startText.hasPrefix(written) { return true }
        return texts.contains { $0.hasPrefix(written) || (written.hasSuffix(".") && $0.hasPrefix(written)) }
            || texts.contains { fact in
                // One decimal fewer is within rounding (`48` for `48.2`).
                guard let dot = fact.firstIndex(of: ".") else { return false }
                return String(fact[..<dot]).hasPrefix(written)
            }
    }

    /// The lexicon plus, outside the names themselves (which the lexer reads whole), only the head word of
    /// each name (`temperature` of `CT-5 basin temperature`, `pump` of `Pump P-101`) and the asset's kind:
    /// other words of a name or a cause widen nothing (`ignore`, `new`, `tool` stay outside the vocabulary).
    static func allowedWords(_ facts: Facts) -> Set<String> {
        var words = Vocabulary.lexicon
        for name in [facts.sensor] + facts.related.map(\.name) {
            if let head = Lexer.words(name).last(where: { !Lexer.looksLikeTag($0) }) { words.insert(head) }
        }
        if let head = Lexer.words(facts.asset).first(where: { !Lexer.looksLikeTag($0) }) { words.insert(head) }
        for w in Lexer.words(facts.assetKind) { words.insert(w) }
        return words
    }

    /// A limit said on the wrong side: `its high limit` or `above … limit` for a breach of the low limit.
    func limitSideProblem(_ items: [Lexer.Item], at index: Int) -> String? {
        guard let side = facts.limitSide else { return nil }
        var k = index - 1
        while k >= 0, index - k <= 4 {
            if case .word(let w) = items[k].token {
                let said: Facts.LimitSide? = switch w {
                case "high", "upper", "maximum", "above", "over", "exceeded": .high
                case "low", "lower", "minimum", "below", "under": .low
                default: nil
                }
                if let said, said != side {
                    return "says \"\(w)\" of the \(side.rawValue) limit"
                }
            } else if case .number = items[k].token {
                break
            }
            k -= 1
        }
        return nil
    }

    /// Equipment words of this event's own names (and their plurals).
    static func allowedEquipment(_ facts: Facts) -> Set<String> {
        var words = Set<String>()
        for name in [facts.asset, facts.assetKind, facts.sensor] + facts.related.map(\.name) {
            for w in Lexer.words(name) { words.insert(w); words.insert(w + "s") }
        }
        return words
    }

    func checkNumber(value: Double, written: String, decimals: Int, unit: String?, subject: SensorID,
                             roles: Set<FactNumber.Role>?, nameOf: (SensorID) -> String) -> String? {
        let d = facts.duration
        // The duration only where the words say it is one ("for 40 s", "after 2 min").
        if roles?.contains(.duration) == true, let unit, unit == d.unit, Verifier.matches(value, decimals: decimals, fact: d) {
            return nil
        }
        let own = facts.numbers.filter { $0.sensor == subject }
        let ownUnit = own.first?.unit ?? ""
        if unit == nil && !ownUnit.isEmpty {
            return "number \(written) has no unit"
        }
        let candidates = own.filter { ($0.unit.isEmpty ? unit == nil : $0.unit == unit) }
        let said = unit.map { "\(written) \($0)" } ?? written
        if let roles {
            if candidates.contains(where: { roles.contains($0.role) && Verifier.matches(value, decimals: decimals, fact: $0) }) {
                return nil
            }
            if candidates.contains(where: { Verifier.matches(value, decimals: decimals, fact: $0) }) {
                let what = roles.map(\.rawValue).sorted().joined(separator: " or ")
                return "number \(said) is said as the \(what) of \(nameOf(subject)) but is not"
            }
        } else if candidates.contains(where: { Verifier.matches(value, decimals: decimals, fact: $0) }) {
            return nil
        }
        if let other = facts.numbers.first(where: { ($0.unit == (unit ?? "")) && Verifier.matches(value, decimals: decimals, fact: $0) }) {
            let whose = other.sensor.map(nameOf) ?? "the duration"
            return "number \(said) is said of \(nameOf(subject)) but belongs to \(whose)"
        }
        if unit != nil, unit != ownUnit, facts.numbers.contains(where: { Verifier.matches(value, decimals: decimals, fact: $0) }) {
            return "number \(said) has the wrong unit"
        }
        return "number \(said) is not a fact"
    }

    /// A number written with `decimals` places matches a fact when it is the fact rounded to its own
    /// decimals or one fewer.
    static func matches(_ value: Double, decimals: Int, fact: FactNumber) -> Bool {
        guard decimals <= fact.decimals, decimals >= max(0, fact.decimals - 1) else { return false }
        var tolerance = 0.5
        for _ in 0..<decimals { tolerance /= 10 }
        return abs(value - fact.value) <= tolerance + 1e-9
    }

    static func allowedCharacter(_ c: Character) -> Bool { Alphabet.allows(c) }

    /// The first phrase of four tokens that occurs twice, or a token said three times in a row.
    static func repeatedPhrase(_ tokens: [String]) -> String? {
        if tokens.count >= 3 {
            for i in 2..<tokens.count where tokens[i] == tokens[i - 1] && tokens[i] == tokens[i - 2] {
                return tokens[i]
            }
        }
        var seen = Set<String>()
        if tokens.count >= 4 {
            for i in 0...(tokens.count - 4) {
                let phrase = tokens[i..<(i + 4)].joined(separator: " ")
                if !seen.insert(phrase).inserted { return phrase }
            }
        }
        return nil
    }
}
