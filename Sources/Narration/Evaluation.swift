import Detection

/// Runs narration over a set of events and measures it: how often the model's text is accepted,
/// whether accepted text names the right sensor and direction, that nothing unverified gets
/// through, and latency.
public struct EvaluationReport: Sendable {
    public struct Row: Sendable {
        public var event: AnomalyEvent
        public var explanation: Explanation
    }

    public var rows: [Row] = []

    public var count: Int { rows.count }
    public var modelAccepted: Int { rows.filter { $0.explanation.narrative.source == .model }.count }
    /// Accepted model text that names the event's sensor and states the right direction: by the
    /// verifier's reading and by `EvaluationReport.statesSensorAndDirection`, a simpler one of its own;
    /// both must agree.
    public var rightSensorAndDirection: Int {
        rows.filter { $0.explanation.narrative.source == .model }.filter {
            ($0.explanation.verdict?.namesSensor ?? false) && ($0.explanation.verdict?.rightDirection ?? false)
                && Self.statesSensorAndDirection($0.explanation.narrative.text, facts: $0.explanation.facts)
        }.count
    }

    /// A plain reading, independent of the verifier's subject tracking: the text names the event's sensor
    /// in full, and the direction words from there up to the next mention of a related sensor (full or
    /// short name) or the end state the event's direction and only it; none at all for an event without
    /// a direction. Strict: a direction word meant for an unnamed other sensor counts against the text.
    public static func statesSensorAndDirection(_ text: String, facts: Facts) -> Bool {
        let lower = text.lowercased()
        guard let own = lower.range(of: facts.sensor.lowercased()) else { return false }
        var end = lower.endIndex
        for r in facts.related {
            for name in [r.name, Lexer.shortName(r.name)].compactMap({ $0?.lowercased() }) where name.count >= 3 {
                if let hit = lower.range(of: name, range: own.upperBound..<lower.endIndex), hit.lowerBound < end {
                    end = hit.lowerBound
                }
            }
        }
        let words = Lexer.words(String(lower[own.upperBound..<end]))
        var up = false, down = false
        for (i, w) in words.enumerated() {
            let next: Lexer.Token? = i + 1 < words.count ? .word(words[i + 1]) : nil
            switch Vocabulary.polarity(of: w, following: next, preceding: i > 0 ? words[i - 1] : nil) {
            case .up?: up = true
            case .down?: down = true
            default: break
            }
        }
        switch facts.direction {
        case .up: return up && !down
        case .down: return down && !up
        case .none: return !up && !down
        }
    }
    /// Final texts that fail the verifier when checked again: must be 0 by construction.
    public var unverifiedDelivered: Int {
        rows.filter { !Verifier(facts: $0.explanation.facts).verify($0.explanation.narrative.text).accepted }.count
    }
    /// Template reasons, most frequent first.
    public var reasons: [(reason: String, count: Int)] {
        var counts: [String: Int] = [:]
        for r in rows { if let reason = r.explanation.narrative.reason { counts[Self.bucket(reason), default: 0] += 1 } }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    public var latenciesMs: [Double] { rows.map(\.explanation.narrative.latencyMs).sorted() }

    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[max(0, min(sorted.count - 1, rank))]
    }

    /// The class of a verifier problem, for `vigil explain --eval`'s hard errors by class.
    public static func problemClass(_ problem: String) -> String {
        let p = problem
        if p.contains("limit") && p.contains("of the") { return "limit side" }
        if p.contains("is said as the") || p.contains("without saying what it is") || p.contains("as a duration")
            || p.contains("time as a value") { return "number role" }
        if p.contains("number") || p.contains("has no unit") || p.contains("wrong unit") { return "number or unit" }
        if p.contains("a word for a") { return "kind words" }
        if p.contains("without a verb") || p.contains("says nothing") || p.contains("unfinished")
            || p.contains("full stop") || p.contains("unexplained") { return "grammar" }
        if p.contains("repeats") || p.contains("lists numbers") { return "repetition" }
        if p.contains("went up") || p.contains("went down") { return "direction" }
        if p.contains("over") && p.contains("event") || p.contains("ongoing") { return "stage" }
        if p.contains("names") || p.contains("not part of this event") || p.contains("does not name") { return "names" }
        if p.contains("cause") || p.contains("speculation") || p.contains("fault") { return "causes" }
        if p.contains("vocabulary") || p.contains("instruction") || p.contains("person") { return "vocabulary" }
        return "other"
    }

    /// Numbers in a reason are specific to one event; grouping wants the kind of problem.
    public static func bucket(_ reason: String) -> String {
        var out = ""
        var lastWasDigit = false
        for c in reason {
            if c.isNumber || (c == "." && lastWasDigit) {
                if !lastWasDigit { out.append("N") }
                lastWasDigit = true
            } else {
                out.append(c)
                lastWasDigit = false
            }
        }
        if let quote = out.firstIndex(of: "\"") { out = String(out[..<quote]) + "\"…\"" }
        return out
    }
}

extension Narrator {
    /// Narrates every incident (groups of two events or more) with no deadline.
    public func evaluateIncidents(_ groups: [[AnomalyEvent]]) async -> EvaluationReport {
        var report = EvaluationReport()
        for group in groups where group.count >= 2 {
            guard let explanation = await explainIncident(group, deadline: nil) else { continue }
            report.rows.append(.init(event: group[0], explanation: explanation))
        }
        return report
    }

    /// Narrates every event in order with no deadline (latency is what each took).
    public func evaluate(_ events: [AnomalyEvent], progress: (@Sendable (Int) -> Void)? = nil) async -> EvaluationReport {
        var report = EvaluationReport()
        for (i, event) in events.enumerated() {
            let explanation = await explain(event, deadline: nil)
            report.rows.append(.init(event: event, explanation: explanation))
            progress?(i + 1)
        }
        return report
    }
}
