import Telemetry

/// The verifier's walk over a text's tokens, left to right, in one pass: who is being spoken of, what was
/// said of the event's sensor, and what each sentence holds so far. Each kind of token has its own step;
/// `Verifier.check` runs the walk between its whole-text passes.
struct VerifierWalk {
    /// What the sentence being read holds so far; reset at each full stop.
    private struct Sentence {
        var isEmpty = true
        var hasContent = false
        var hasVerb = false
        var hasCause = false
        var speculates = false
        var hedged = false
    }

    private let facts: Facts
    private let verifier: Verifier
    private let chars: [Character]
    private let items: [Lexer.Item]
    private let partial: Bool
    private let pendingDecimalPoint: Bool
    private var last: Int { items.count - 1 }

    private(set) var problems: [String] = []
    /// The tokens as the repetition check reads them (names and the time as placeholders).
    private(set) var sequence: [String] = []
    private(set) var namesSensor = false
    private var subject: SensorID
    private var sentence = Sentence()
    /// Something (a number, a word for what happened) said of the event's sensor while it is the subject.
    private var ownSaid = false
    /// A number (or for a silence the time) said of the event's sensor: how far, how long, since when.
    private var ownNumber = false
    private var upSaid = false, downSaid = false, overSaid = false
    private var numbersSaid: [String: Int] = [:]
    private var timesSaid = 0
    /// "limit" or "baseline" just before a number says which fact it must be.
    private var roleHint: (roles: Set<FactNumber.Role>, at: Int)?
    /// Where the last hedge word (`possibly`) was, and the last cause that was hedged.
    private var lastHedge: Int?
    private var lastHedgedCause: Int?
    /// In a prefix, the first number that touches the end; what follows it is its unit still being written.
    private var firstOpenNumber = Int.max

    init(verifier: Verifier, chars: [Character], items: [Lexer.Item], partial: Bool, pendingDecimalPoint: Bool) {
        self.verifier = verifier
        facts = verifier.facts
        self.chars = chars
        self.items = items
        self.partial = partial
        self.pendingDecimalPoint = pendingDecimalPoint
        subject = verifier.facts.sensorID
    }

    /// The text states the event's direction and no other (none stated when it has none).
    var rightDirection: Bool {
        switch facts.direction {
        case .up: upSaid && !downSaid
        case .down: downSaid && !upSaid
        case .none: !upSaid && !downSaid
        }
    }

    mutating func run() {
        for index in items.indices {
            let isOpen = open(index)
            noteWhatIsSaid(at: index)
            if isOpen, case .number = items[index].token { firstOpenNumber = min(firstOpenNumber, index) }
            switch items[index].token {
            case .sensor(let id): sensor(id, at: index, isOpen: isOpen)
            case .asset: sequence.append("<asset>")
            case .foreign(let name): if !isOpen { problems.append("names \(name), which is not part of this event") }
            case .time: time(at: index, isOpen: isOpen)
            case .cause: cause(at: index)
            case .sentenceEnd: sentenceEnd(at: index)
            case .punctuation: break
            case .number(let value, let written, let decimals, let unit):
                number(value, written: written, decimals: decimals, unit: unit, at: index, isOpen: isOpen)
            case .word(let w): word(w, at: index, isOpen: isOpen)
            }
        }
        if !partial { finish() }
    }

    // MARK: Steps

    /// What every token adds to its sentence and to what is said of the event's sensor.
    private mutating func noteWhatIsSaid(at index: Int) {
        let token = items[index].token
        let content: Bool = switch token {
        case .number, .time, .cause: true
        case .word(let w): Vocabulary.predicates.contains(w)
        default: false
        }
        if content { sentence.hasContent = true }
        if token != .sentenceEnd { sentence.isEmpty = false }
        // A hedge must be about a listed cause, right after it (`possibly a stuck valve`).
        if let h = lastHedge, lastHedgedCause.map({ $0 < h }) ?? true, index - h > 3 {
            problems.append("hedges something that is not a listed cause")
        }
        guard subject == facts.sensorID, namesSensor else { return }
        if content, token != .time { ownSaid = true }
        switch token {
        case .number(_, _, _, let unit):
            // Not the duration alone (`was on for 38 s`).
            if unit != facts.duration.unit || unit == facts.unit { ownNumber = true }
        case .time where facts.kind == .silence: ownNumber = true
        default: break
        }
    }

    private mutating func sensor(_ id: SensorID, at index: Int, isOpen: Bool) {
        if id != facts.sensorID, namesSensor, !ownSaid, !isOpen {
            problems.append("names \(nameOf(id)) before saying what \(facts.sensor) did")
        }
        subject = id
        if id == facts.sensorID { namesSensor = true }
        sequence.append("<\(id.rawValue)>")
    }

    /// The start time is said as one: `at 03:12:05 UTC`, `since 03:12:05 UTC`, once.
    private mutating func time(at index: Int, isOpen: Bool) {
        let before = previousWord(index)
        if let w = before, Vocabulary.valueWords.contains(w) {
            problems.append("says the time as a value (\"\(w) \(facts.startText.prefix(5))\")")
        }
        if let w = before, Vocabulary.durationWords.contains(w) {
            problems.append("says the start time as a duration (\"\(w) \(facts.startText.prefix(5))\")")
        } else if before != "at", before != "since", !isOpen {
            problems.append("says the start time without \"at\" or \"since\"")
        }
        if !isOpen, case .punctuation(",")? = previous(index), endsClause(after: index, atEnd: !partial) {
            problems.append("leaves the time unexplained")
        }
        sequence.append("<time>")
        timesSaid += 1
        if timesSaid > 1 { problems.append("repeats the time") }
    }

    /// A cause is only ever a possibility: after a hedge in its sentence (`possibly a stuck valve`,
    /// `listed causes: …`).
    private mutating func cause(at index: Int) {
        if sentence.hedged { lastHedgedCause = index } else {
            problems.append("states a cause as a fact, not as a possibility")
        }
        sentence.hasCause = true
        sequence.append("<cause>")
    }

    private mutating func sentenceEnd(at index: Int) {
        roleHint = nil
        // A cut-off sentence: a full stop after a word that needs more (`dropped by.`), after
        // punctuation, or right after a sensor's name with nothing said of it.
        switch previous(index) {
        case .word(let w)? where Vocabulary.danglingEnds.contains(w):
            problems.append("ends a sentence unfinished (\"\(w).\")")
        case .punctuation(let c)?:
            problems.append("ends a sentence unfinished (\"\(c).\")")
        case .sensor(let id)?:
            problems.append("ends a sentence on \(nameOf(id)) with nothing said of it")
        default:
            break
        }
        endSentence()
    }

    private mutating func endSentence() {
        if sentence.speculates && !sentence.hasCause { problems.append("speculation without a listed cause") }
        if !sentence.isEmpty && !sentence.hasVerb { problems.append("has a sentence without a verb") }
        if !sentence.isEmpty && !sentence.hasContent { problems.append("has a sentence that says nothing") }
        sentence = Sentence()
    }

    private mutating func number(_ value: Double, written: String, decimals: Int, unit: String?, at index: Int, isOpen: Bool) {
        sequence.append(written)
        // A number left on its own between commas (`…, 1.8 A.`) says nothing of what it is.
        if !isOpen, index + 1 <= last || !partial {
            let alone: Bool = switch previous(index) {
            case nil, .punctuation(",")?, .punctuation(";")?, .sentenceEnd?: true
            default: false
            }
            if alone, endsClause(after: index, atEnd: true) { problems.append("leaves the number \(written) unexplained") }
        }
        let roles = roles(ofNumberAt: index)
        roleHint = nil
        // Every number is bound to what it is by the words around it: a bare number can be
        // read as anything (`1.5 °C is the new temperature` for a change of 1.5 °C).
        let nextSettled = index + 1 < last || (index + 1 == last && items[last].end < chars.count)
        if roles == nil, !isOpen, !partial || nextSettled {
            problems.append("says \(written)\(unit.map { " " + $0 } ?? "") without saying what it is")
        }
        if isOpen {
            let soFar = pendingDecimalPoint && index == last ? written + "." : written
            if !verifier.couldBecomeFact(soFar, subject: subject, roles: roles) {
                problems.append("number \(written) cannot become a fact of \(nameOf(subject))")
            }
        } else if let problem = verifier.checkNumber(value: value, written: written, decimals: decimals, unit: unit,
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
    }

    /// What the words around a number say it is: the word after it (`48.2 A above`), a hint just before it
    /// (`limit of`), or, right after another number (`48.2 A, 18.1 A above …`), its change.
    private func roles(ofNumberAt index: Int) -> Set<FactNumber.Role>? {
        if index + 1 <= last, case .word(let next) = items[index + 1].token, let after = Vocabulary.numberRolesAfter[next] {
            return after
        }
        if let h = roleHint, index - h.at <= 2 {
            // Prepositions bind only the number right after them.
            let preposition = if case .word(let w) = items[h.at].token { Vocabulary.numberRoles[w] != nil } else { false }
            if !(index - h.at == 2 && preposition) { return h.roles }
        }
        let afterNumber = items[..<index].reversed().first { if case .punctuation = $0.token { false } else { true } }
            .map { if case .number = $0.token { true } else { false } } ?? false
        return afterNumber ? [.deviation, .relatedDeviation] : nil
    }

    private mutating func word(_ w: String, at index: Int, isOpen: Bool) {
        sequence.append(w)
        if index > firstOpenNumber { return }   // the unit of a number still being written
        if let roles = Vocabulary.numberNouns[w] ?? Vocabulary.numberRoles[w] { roleHint = (roles, index) }
        if Vocabulary.finiteVerbs.contains(w) { sentence.hasVerb = true }
        // An unfinished last word is judged only once it is long enough to mean something.
        let judged = !isOpen || (items[index].end - items[index].offset >= 3) || w == "up"
        if w == "limit", judged, let problem = verifier.limitSideProblem(items, at: index) { problems.append(problem) }
        if judged, let kind = Vocabulary.kindWords[w], kind != facts.kind,
           !facts.kind.words.split(separator: " ").contains(Substring(w)) {
            problems.append("says \"\(w)\", a word for a \(kind.words), of a \(facts.kind.words)")
        }
        if !verifier.allowedWords.contains(w) {
            if !isOpen {
                problems.append("uses a word outside the alert vocabulary (\"\(w)\")")
            } else if !verifier.allowedWords.contains(where: { $0.hasPrefix(w) }) {
                problems.append("starts a word outside the alert vocabulary (\"\(w)\")")
            }
        }
        guard judged else { return }
        if Vocabulary.instructions.contains(w) || Vocabulary.isInstructionPhrase(items, at: index) {
            problems.append("gives an instruction (\"\(w)\")")
        }
        if Vocabulary.selfReference.contains(w) { problems.append("speaks as a person (\"\(w)\")") }
        if Vocabulary.breakWords.contains(w), nextWord(index) == "down" {
            problems.append("names a fault (\"\(w) down\")")
        }
        stage(w, at: index)
        if Vocabulary.speculation.contains(w) { sentence.speculates = true }
        if Vocabulary.hedges.contains(w) { lastHedge = index; sentence.hedged = true }
        if ["listed", "cause", "causes"].contains(w) { sentence.hedged = true }
        if Vocabulary.faults.contains(w) { problems.append("names a cause or fault not listed (\"\(w)\")") }
        if !isOpen, Vocabulary.equipment.contains(w), !verifier.allowedEquipment.contains(w) {
            problems.append("names equipment not in this event (\"\(w)\")")
        }
        if !isOpen, Lexer.looksLikeTag(w) { problems.append("names \(w), which is not part of this event") }
        direction(w, at: index)
    }

    /// The stage: an open event is not over, a resolved one is not going on.
    private mutating func stage(_ w: String, at index: Int) {
        if Vocabulary.overWords.contains(w) || (w == "back" && ["to", "normal", "within"].contains(nextWord(index) ?? "")) {
            if facts.stage == .opened { problems.append("speaks of an ongoing event as over (\"\(w)\")") }
            overSaid = true
        }
        if facts.stage == .resolved, Vocabulary.ongoingWords.contains(w) {
            problems.append("speaks of a resolved event as ongoing (\"\(w)\")")
        }
    }

    /// A word that says which way the subject went must say the way it did go.
    private mutating func direction(_ w: String, at index: Int) {
        guard let polarity = Vocabulary.polarity(of: w, following: index + 1 < items.count ? items[index + 1].token : nil,
                                                 preceding: previousWord(index)) else { return }
        let expected = directionOf(subject)
        if expected != polarity {
            problems.append("says \(nameOf(subject)) went \(polarity == .up ? "up" : "down") (\"\(w)\")"
                + (expected == .none ? ", but it has no direction" : ", but it went \(expected.rawValue)"))
        }
        if subject == facts.sensorID { if polarity == .up { upSaid = true } else { downSaid = true } }
    }

    /// What a whole text must have said by its end.
    private mutating func finish() {
        endSentence()
        if !namesSensor { problems.append("does not name \(facts.sensor)") }
        if facts.stage == .resolved, !overSaid { problems.append("does not say the event is over") }
        if namesSensor, !ownSaid { problems.append("says nothing of \(facts.sensor)") }
        if namesSensor, ownSaid, !ownNumber { problems.append("gives no number for \(facts.sensor)") }
        if let h = lastHedge, lastHedgedCause.map({ $0 < h }) ?? true {
            problems.append("hedges something that is not a listed cause")
        }
    }

    // MARK: Reading around a token

    /// In a prefix, a token touching the end may still grow (`P-10`, `48.`, `48.2 m3`).
    private func open(_ index: Int) -> Bool {
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

    /// The token after `index` closes a clause (a full stop, comma or semicolon), or there is none and `atEnd`.
    private func endsClause(after index: Int, atEnd: Bool) -> Bool {
        guard index + 1 <= last else { return atEnd }
        switch items[index + 1].token {
        case .sentenceEnd, .punctuation(","), .punctuation(";"): return true
        default: return false
        }
    }

    private func previous(_ index: Int) -> Lexer.Token? { index > 0 ? items[index - 1].token : nil }

    private func previousWord(_ index: Int) -> String? {
        if case .word(let w)? = previous(index) { return w }
        return nil
    }

    private func nextWord(_ index: Int) -> String? {
        guard index + 1 < items.count, case .word(let w) = items[index + 1].token else { return nil }
        return w
    }

    private func directionOf(_ id: SensorID) -> Direction {
        if id == facts.sensorID { return facts.direction }
        return facts.related.first { $0.sensor == id }?.direction ?? .none
    }

    private func nameOf(_ id: SensorID) -> String {
        facts.sensorNames.first { $0.id == id }?.name ?? id.rawValue
    }
}
