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

    public init(facts: Facts, foreignNames: [String] = []) {
        self.facts = facts
        self.foreignNames = foreignNames
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
        var problems: [String] = []
        let chars = Array(text)
        if chars.isEmpty { return Verdict(problems: ["empty text"], namesSensor: false, rightDirection: false) }
        if chars.count > maxCharacters { problems.append("too long (\(chars.count) characters)") }
        for c in chars where !Verifier.allowedCharacter(c) {
            problems.append("unexpected character \(c.unicodeScalars.first.map { "U+" + String($0.value, radix: 16) } ?? "?")")
            break
        }
        let items = Lexer(facts: facts, foreignNames: foreignNames).lex(chars)

        // Sentences.
        var sentences = 0
        for item in items { if case .sentenceEnd = item.token { sentences += 1 } }
        if case .sentenceEnd? = items.last?.token {} else { problems.append("does not end with a full stop") ; sentences += 1 }
        if sentences > maxSentences { problems.append("more than \(maxSentences) sentences") }

        var subject = facts.sensorID
        var namesSensor = false
        var upSaid = false, downSaid = false
        var sentenceHasCause = false, sentenceSpeculates = false
        var sequence: [String] = []

        func directionOf(_ id: SensorID) -> Direction {
            if id == facts.sensorID { return facts.direction }
            return facts.related.first { $0.sensor == id }?.direction ?? .none
        }
        func nameOf(_ id: SensorID) -> String {
            facts.sensorNames.first { $0.id == id }?.name ?? id.rawValue
        }
        func endSentence() {
            if sentenceSpeculates && !sentenceHasCause { problems.append("speculation without a listed cause") }
            sentenceHasCause = false
            sentenceSpeculates = false
        }

        for (index, item) in items.enumerated() {
            switch item.token {
            case .sensor(let id):
                subject = id
                if id == facts.sensorID { namesSensor = true }
                sequence.append("<\(id.rawValue)>")
            case .asset:
                sequence.append("<asset>")
            case .foreign(let name):
                problems.append("names \(name), which is not part of this event")
            case .time:
                sequence.append("<time>")
            case .cause:
                sentenceHasCause = true
                sequence.append("<cause>")
            case .sentenceEnd:
                endSentence()
            case .punctuation:
                break
            case .number(let value, let written, let decimals, let unit):
                sequence.append(written)
                if let problem = checkNumber(value: value, written: written, decimals: decimals, unit: unit,
                                             subject: subject, nameOf: nameOf) {
                    problems.append(problem)
                }
            case .word(let w):
                sequence.append(w)
                if Vocabulary.instructions.contains(w) || Vocabulary.isInstructionPhrase(items, at: index) {
                    problems.append("gives an instruction (\"\(w)\")")
                }
                if Vocabulary.selfReference.contains(w) { problems.append("speaks as a person (\"\(w)\")") }
                if Vocabulary.speculation.contains(w) { sentenceSpeculates = true }
                if Vocabulary.faults.contains(w) { problems.append("names a cause or fault not listed (\"\(w)\")") }
                if Vocabulary.equipment.contains(w), !allowedEquipment.contains(w) {
                    problems.append("names equipment not in this event (\"\(w)\")")
                }
                if Lexer.looksLikeTag(w) { problems.append("names \(w), which is not part of this event") }
                if let polarity = Vocabulary.polarity(of: w, following: index + 1 < items.count ? items[index + 1].token : nil) {
                    let expected = directionOf(subject)
                    if expected != polarity {
                        problems.append("says \(nameOf(subject)) went \(polarity == .up ? "up" : "down") (\"\(w)\")"
                            + (expected == .none ? ", but it has no direction" : ", but it went \(expected.rawValue)"))
                    }
                    if subject == facts.sensorID { if polarity == .up { upSaid = true } else { downSaid = true } }
                }
            }
        }
        endSentence()

        if !namesSensor { problems.append("does not name \(facts.sensor)") }
        if let repeated = Verifier.repeatedPhrase(sequence) { problems.append("repeats \"\(repeated)\"") }

        var unique: [String] = []
        for p in problems where !unique.contains(p) { unique.append(p) }
        let rightDirection: Bool = switch facts.direction {
        case .up: upSaid && !downSaid
        case .down: downSaid && !upSaid
        case .none: !upSaid && !downSaid
        }
        return Verdict(problems: unique, namesSensor: namesSensor, rightDirection: rightDirection)
    }

    private var allowedEquipment: Set<String> {
        var words = Set<String>()
        for name in [facts.asset, facts.assetKind, facts.sensor] + facts.related.map(\.name) {
            for w in Lexer.words(name) { words.insert(w); words.insert(w + "s") }
        }
        return words
    }

    private func checkNumber(value: Double, written: String, decimals: Int, unit: String?, subject: SensorID,
                             nameOf: (SensorID) -> String) -> String? {
        let d = facts.duration
        if let unit, unit == d.unit, Verifier.matches(value, decimals: decimals, fact: d) { return nil }
        let own = facts.numbers.filter { $0.sensor == subject }
        let ownUnit = own.first?.unit ?? ""
        if unit == nil && !ownUnit.isEmpty {
            return "number \(written) has no unit"
        }
        let candidates = own.filter { ($0.unit.isEmpty ? unit == nil : $0.unit == unit) }
        if candidates.contains(where: { Verifier.matches(value, decimals: decimals, fact: $0) }) { return nil }
        let said = unit.map { "\(written) \($0)" } ?? written
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

    static func allowedCharacter(_ c: Character) -> Bool {
        if c.isASCII {
            if c.isLetter || c.isNumber || c == " " { return true }
            return ",.;:'()-/%+".contains(c)
        }
        return "°³²µ·".contains(c)
    }

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
