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

    public init(facts: Facts, foreignNames: [String] = []) {
        self.facts = facts
        self.foreignNames = foreignNames
        lexer = Lexer(facts: facts, foreignNames: foreignNames)
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

    private func check(_ chars: [Character], partial: Bool, pendingDecimalPoint: Bool = false) -> Verdict {
        var problems: [String] = []
        if chars.isEmpty {
            return Verdict(problems: partial ? [] : ["empty text"], namesSensor: false, rightDirection: false)
        }
        if chars.count > maxCharacters { problems.append("too long (\(chars.count) characters)") }
        for c in chars where !Verifier.allowedCharacter(c) {
            problems.append("unexpected character \(c.unicodeScalars.first.map { "U+" + String($0.value, radix: 16) } ?? "?")")
            break
        }
        let items = lexer.lex(chars)
        let last = items.count - 1
        // In a prefix, a token touching the end may still grow (`P-10`, `48.`, `48.2 m3`).
        var firstOpenNumber = Int.max
        func open(_ index: Int) -> Bool {
            guard partial else { return false }
            if index > firstOpenNumber { return true }   // the unit of a number still being written
            if case .number(_, _, _, let unit) = items[index].token {
                var tail = String(chars[items[index].end...])
                if tail.hasPrefix(" ") { tail.removeFirst() }
                if tail.isEmpty { return true }
                if unit != nil { return false }
                // A unit still being written after the number.
                return facts.numbers.contains { !$0.unit.isEmpty && $0.unit.hasPrefix(tail) && $0.unit != tail }
            }
            return index == last && items[index].end >= chars.count
        }

        // Sentences.
        var sentences = 0
        for (index, item) in items.enumerated() {
            if case .sentenceEnd = item.token {
                sentences += 1
                if sentences == maxSentences, index < last {
                    problems.append("more than \(maxSentences) sentences")
                }
            }
        }
        if !partial {
            if case .sentenceEnd? = items.last?.token {} else { problems.append("does not end with a full stop"); sentences += 1 }
            if sentences > maxSentences, !problems.contains("more than \(maxSentences) sentences") {
                problems.append("more than \(maxSentences) sentences")
            }
        }

        var subject = facts.sensorID
        var namesSensor = false
        var upSaid = false, downSaid = false
        var sentenceHasCause = false, sentenceSpeculates = false
        var sequence: [String] = []
        var numbersSaid: [String: Int] = [:]
        var timesSaid = 0
        // "limit" or "baseline" just before a number says which fact it must be.
        var roleHint: (roles: Set<FactNumber.Role>, at: Int)?
        func hint(_ index: Int) -> Set<FactNumber.Role>? {
            guard let h = roleHint, index - h.at <= 2 else { return nil }
            // Prepositions bind only the number right after them.
            if index - h.at == 2, case .word(let w) = items[h.at].token, Vocabulary.numberRoles[w] != nil { return nil }
            return h.roles
        }

        func directionOf(_ id: SensorID) -> Direction {
            if id == facts.sensorID { return facts.direction }
            return facts.related.first { $0.sensor == id }?.direction ?? .none
        }
        func nameOf(_ id: SensorID) -> String {
            facts.sensorNames.first { $0.id == id }?.name ?? id.rawValue
        }
        var sentenceHasContent = false
        var sentenceIsEmpty = true
        var overSaid = false
        // Something (a number, a word for what happened) said of the event's sensor while it is the subject.
        var ownSaid = false
        // A number (or for a silence the time) said of the event's sensor: how far, how long, since when.
        var ownNumber = false
        // Where the last hedge word (`possibly`) was, and the last cause that was hedged.
        var lastHedge: Int?
        var lastHedgedCause: Int?
        var sentenceHedged = false
        func previous(_ index: Int) -> Lexer.Token? { index > 0 ? items[index - 1].token : nil }
        var sentenceHasVerb = false
        func endSentence() {
            if sentenceSpeculates && !sentenceHasCause { problems.append("speculation without a listed cause") }
            if !sentenceIsEmpty && !sentenceHasVerb { problems.append("has a sentence without a verb") }
            sentenceHasVerb = false
            if !sentenceIsEmpty && !sentenceHasContent { problems.append("has a sentence that says nothing") }
            sentenceHasCause = false
            sentenceSpeculates = false
            sentenceHasContent = false
            sentenceIsEmpty = true
            sentenceHedged = false
        }
        func nextWord(_ index: Int) -> String? {
            guard index + 1 < items.count, case .word(let w) = items[index + 1].token else { return nil }
            return w
        }

        for (index, item) in items.enumerated() {
            let isOpen = open(index)
            switch item.token {
            case .number, .time, .cause: sentenceHasContent = true
            case .word(let w) where Vocabulary.predicates.contains(w): sentenceHasContent = true
            default: break
            }
            if item.token != .sentenceEnd { sentenceIsEmpty = false }
            // A hedge must be about a listed cause, right after it (`possibly a stuck valve`).
            if let h = lastHedge, lastHedgedCause.map({ $0 < h }) ?? true, index - h > 3 {
                problems.append("hedges something that is not a listed cause")
            }
            if subject == facts.sensorID, namesSensor {
                switch item.token {
                case .number, .cause: ownSaid = true
                case .word(let w) where Vocabulary.predicates.contains(w): ownSaid = true
                default: break
                }
                switch item.token {
                case .number(_, _, _, let unit):
                    // Not the duration alone (`was on for 38 s`).
                    if unit != facts.duration.unit || unit == facts.unit { ownNumber = true }
                case .time where facts.kind == .silence: ownNumber = true
                default: break
                }
            }
            if isOpen, case .number = item.token { firstOpenNumber = min(firstOpenNumber, index) }
            // An unfinished last word is judged only once it is long enough to mean something.
            let judged = !isOpen || (item.end - item.offset >= 3) || item.token == .word("up")
            switch item.token {
            case .sensor(let id):
                if id != facts.sensorID, namesSensor, !ownSaid, !isOpen {
                    problems.append("names \(nameOf(id)) before saying what \(facts.sensor) did")
                }
                subject = id
                if id == facts.sensorID { namesSensor = true }
                sequence.append("<\(id.rawValue)>")
            case .asset:
                sequence.append("<asset>")
            case .foreign(let name):
                if !isOpen { problems.append("names \(name), which is not part of this event") }
            case .time:
                if case .word(let w)? = previous(index), Vocabulary.valueWords.contains(w) {
                    problems.append("says the time as a value (\"\(w) \(facts.startText.prefix(5))\")")
                }
                if case .word(let w)? = previous(index), Vocabulary.durationWords.contains(w) {
                    problems.append("says the start time as a duration (\"\(w) \(facts.startText.prefix(5))\")")
                } else if case .word(let w)? = previous(index), w == "at" || w == "since" {
                    // The start time is said as one: `at 03:12:05 UTC`, `since 03:12:05 UTC`.
                } else if !isOpen {
                    problems.append("says the start time without \"at\" or \"since\"")
                }
                if !isOpen, case .punctuation(",")? = previous(index) {
                    let after: Bool = index + 1 > last ? !partial : {
                        switch items[index + 1].token {
                        case .sentenceEnd, .punctuation(","), .punctuation(";"): return true
                        default: return false
                        }
                    }()
                    if after { problems.append("leaves the time unexplained") }
                }
                sequence.append("<time>")
                timesSaid += 1
                if timesSaid > 1 { problems.append("repeats the time") }
            case .cause:
                // A cause is only ever a possibility: after a hedge in its sentence (`possibly a stuck
                // valve`, `listed causes: …`).
                if sentenceHedged { lastHedgedCause = index } else {
                    problems.append("states a cause as a fact, not as a possibility")
                }
                sentenceHasCause = true
                sequence.append("<cause>")
            case .sentenceEnd:
                roleHint = nil
                // A cut-off sentence: a full stop after a word that needs more (`dropped by.`), after
                // punctuation, or right after a sensor's name with nothing said of it.
                if index > 0 {
                    switch items[index - 1].token {
                    case .word(let w) where Vocabulary.danglingEnds.contains(w):
                        problems.append("ends a sentence unfinished (\"\(w).\")")
                    case .punctuation(let c):
                        problems.append("ends a sentence unfinished (\"\(c).\")")
                    case .sensor(let id):
                        problems.append("ends a sentence on \(nameOf(id)) with nothing said of it")
                    default:
                        break
                    }
                }
                endSentence()
            case .punctuation:
                break
            case .number(let value, let written, let decimals, let unit):
                sequence.append(written)
                // A number left on its own between commas (`…, 1.8 A.`) says nothing of what it is.
                if !isOpen, index + 1 <= last || !partial {
                    let before: Bool = switch previous(index) {
                    case nil, .punctuation(",")?, .punctuation(";")?, .sentenceEnd?: true
                    default: false
                    }
                    let after: Bool = index + 1 > last ? true : {
                        switch items[index + 1].token {
                        case .sentenceEnd, .punctuation(","), .punctuation(";"): return true
                        default: return false
                        }
                    }()
                    if before && after { problems.append("leaves the number \(written) unexplained") }
                }
                // A number right after another one ("48.2 A, 18.1 A above …") can only be its change.
                let afterNumber = index > 0 && items[..<index].reversed().drop { if case .punctuation = $0.token { return true }; return false }
                    .first.map { if case .number = $0.token { return true }; return false } ?? false
                var after: Set<FactNumber.Role>?
                if index + 1 <= last, case .word(let next) = items[index + 1].token { after = Vocabulary.numberRolesAfter[next] }
                let roles = after ?? hint(index) ?? (afterNumber ? [.deviation, .relatedDeviation] : nil)
                roleHint = nil
                // Every number is bound to what it is by the words around it: a bare number can be
                // read as anything (`1.5 °C is the new temperature` for a change of 1.5 °C).
                let nextSettled = index + 1 < last || (index + 1 == last && items[last].end < chars.count)
                if roles == nil, !isOpen, !partial || nextSettled {
                    problems.append("says \(written)\(unit.map { " " + $0 } ?? "") without saying what it is")
                }
                if isOpen {
                    let soFar = pendingDecimalPoint && index == last ? written + "." : written
                    if !couldBecomeFact(soFar, subject: subject, roles: roles) {
                        problems.append("number \(written) cannot become a fact of \(nameOf(subject))")
                    }
                } else if let problem = checkNumber(value: value, written: written, decimals: decimals, unit: unit,
                                                    subject: subject, roles: roles, nameOf: nameOf) {
                    problems.append(problem)
                } else {
                    // A number may be said as often as the facts hold it (a peak equal to its baseline).
                    let key = "\(subject.rawValue)|\(written)|\(unit ?? "")"
                    numbersSaid[key, default: 0] += 1
                    let held = facts.numbers.filter {
                        ($0.sensor == subject || $0.sensor == nil) && $0.unit == (unit ?? "")
                            && Verifier.matches(value, decimals: decimals, fact: $0)
                    }.count
                    if numbersSaid[key, default: 0] > max(1, held) { problems.append("repeats the number \(written)") }
                }
            case .word(let w):
                sequence.append(w)
                if index > firstOpenNumber { continue }   // the unit of a number still being written
                if let roles = Vocabulary.numberRoles[w] { roleHint = (roles, index) }
                if let roles = Vocabulary.numberNouns[w] { roleHint = (roles, index) }
                if Vocabulary.finiteVerbs.contains(w) { sentenceHasVerb = true }
                if w == "limit", judged, let problem = limitSideProblem(items, at: index) { problems.append(problem) }
                if judged, let kind = Vocabulary.kindWords[w], kind != facts.kind,
                   !facts.kind.words.split(separator: " ").contains(Substring(w)) {
                    problems.append("says \"\(w)\", a word for a \(kind.words), of a \(facts.kind.words)")
                }
                if !allowedWords.contains(w) {
                    if !isOpen {
                        problems.append("uses a word outside the alert vocabulary (\"\(w)\")")
                    } else if !allowedWords.contains(where: { $0.hasPrefix(w) }) {
                        problems.append("starts a word outside the alert vocabulary (\"\(w)\")")
                    }
                }
                if !judged { continue }
                if Vocabulary.instructions.contains(w) || Vocabulary.isInstructionPhrase(items, at: index) {
                    problems.append("gives an instruction (\"\(w)\")")
                }
                if Vocabulary.selfReference.contains(w) { problems.append("speaks as a person (\"\(w)\")") }
                if Vocabulary.breakWords.contains(w), nextWord(index) == "down" {
                    problems.append("names a fault (\"\(w) down\")")
                }
                // The stage: an open event is not over, a resolved one is not going on.
                let saysOver = Vocabulary.overWords.contains(w)
                    || (w == "back" && ["to", "normal", "within"].contains(nextWord(index) ?? ""))
                if saysOver {
                    if facts.stage == .opened { problems.append("speaks of an ongoing event as over (\"\(w)\")") }
                    overSaid = true
                }
                if facts.stage == .resolved, Vocabulary.ongoingWords.contains(w) {
                    problems.append("speaks of a resolved event as ongoing (\"\(w)\")")
                }
                if Vocabulary.speculation.contains(w) { sentenceSpeculates = true }
                if Vocabulary.hedges.contains(w) { lastHedge = index; sentenceHedged = true }
                if ["listed", "cause", "causes"].contains(w) { sentenceHedged = true }
                if Vocabulary.faults.contains(w) { problems.append("names a cause or fault not listed (\"\(w)\")") }
                if !isOpen, Vocabulary.equipment.contains(w), !allowedEquipment.contains(w) {
                    problems.append("names equipment not in this event (\"\(w)\")")
                }
                if !isOpen, Lexer.looksLikeTag(w) { problems.append("names \(w), which is not part of this event") }
                if let polarity = Vocabulary.polarity(
                    of: w, following: index + 1 < items.count ? items[index + 1].token : nil,
                    preceding: { if case .word(let p)? = previous(index) { return p }; return nil }()) {
                    let expected = directionOf(subject)
                    if expected != polarity {
                        problems.append("says \(nameOf(subject)) went \(polarity == .up ? "up" : "down") (\"\(w)\")"
                            + (expected == .none ? ", but it has no direction" : ", but it went \(expected.rawValue)"))
                    }
                    if subject == facts.sensorID { if polarity == .up { upSaid = true } else { downSaid = true } }
                }
            }
        }
        if !partial {
            endSentence()
            if !namesSensor { problems.append("does not name \(facts.sensor)") }
            if facts.stage == .resolved, !overSaid { problems.append("does not say the event is over") }
            if namesSensor, !ownSaid { problems.append("says nothing of \(facts.sensor)") }
            if namesSensor, ownSaid, !ownNumber { problems.append("gives no number for \(facts.sensor)") }
            if let h = lastHedge, lastHedgedCause.map({ $0 < h }) ?? true {
                problems.append("hedges something that is not a listed cause")
            }
        }
        if let repeated = Verifier.repeatedPhrase(partial ? Array(sequence.dropLast()) : sequence) {
            problems.append("repeats \"\(repeated)\"")
        }
        // Three numbers with no word between them are a list, not a sentence.
        var run = 0
        for item in items {
            switch item.token {
            case .number: run += 1
            case .punctuation: break
            default: run = 0
            }
            if run >= 3 {
                problems.append("lists numbers")
                break
            }
        }

        var unique: [String] = []
        for p in problems where !unique.contains(p) { unique.append(p) }
        let rightDirection: Bool = switch facts.direction {
        case .up: upSaid && !downSaid
        case .down: downSaid && !upSaid
        case .none: !upSaid && !downSaid
        }
        return Verdict(problems: unique, namesSensor: namesSensor, rightDirection: rightDirection)
    }

    /// Whether a number still being written can become one of `subject`'s facts, the duration or the time.
    private func couldBecomeFact(_ written: String, subject: SensorID, roles: Set<FactNumber.Role>?) -> Bool {
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
    private var allowedWords: Set<String> {
        var words = Vocabulary.lexicon
        for name in [facts.sensor] + facts.related.map(\.name) {
            if let head = Lexer.words(name).last(where: { !Lexer.looksLikeTag($0) }) { words.insert(head) }
        }
        if let head = Lexer.words(facts.asset).first(where: { !Lexer.looksLikeTag($0) }) { words.insert(head) }
        for w in Lexer.words(facts.assetKind) { words.insert(w) }
        return words
    }

    /// A limit said on the wrong side: `its high limit` or `above … limit` for a breach of the low limit.
    private func limitSideProblem(_ items: [Lexer.Item], at index: Int) -> String? {
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

    private var allowedEquipment: Set<String> {
        var words = Set<String>()
        for name in [facts.asset, facts.assetKind, facts.sensor] + facts.related.map(\.name) {
            for w in Lexer.words(name) { words.insert(w); words.insert(w + "s") }
        }
        return words
    }

    private func checkNumber(value: Double, written: String, decimals: Int, unit: String?, subject: SensorID,
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
