import Detection
import Dispatch
import Logging
import Synchronization
import Telemetry

/// Everything one narration did, for `vigil explain` and the evaluation.
public struct Explanation: Sendable {
    public var facts: Facts
    public var prompt: NarrationPrompt?
    /// The model's raw text (trimmed), nil when the model did not run.
    public var modelText: String?
    public var completion: Completion?
    /// The verifier's judgement of the model text.
    public var verdict: Verdict?
    public var narrative: Narrative
}

/// Turns an event into a narrative: facts, prompt, model, verifier; the template whenever the model
/// is absent, fails, is late or writes something the verifier rejects. Never throws.
public final class Narrator: Sendable {
    public let catalog: Catalog
    public let model: (any NarrationModel)?
    public let configuration: NarrationConfiguration
    /// The larger model hard cases go to (`narration.escalate`); nil: none.
    public let escalator: (any NarrationEscalating)?
    let logger: Logger
    /// The model's forward pass blocks: it runs here, off the cooperative pool, one call at a time.
    private let modelQueue = DispatchQueue(label: "vigil.narration.model")

    public init(catalog: Catalog, model: (any NarrationModel)?, configuration: NarrationConfiguration = .init(),
                logger: Logger, escalator: (any NarrationEscalating)? = nil) {
        self.catalog = catalog
        self.model = model
        self.escalator = escalator
        self.configuration = configuration
        self.logger = logger
    }

    /// Computes the model's shared prompt prefix now (on the model queue), so that the first alert does
    /// not pay for it. Call once when narration starts; harmless without a model.
    public func prepare() async {
        guard let model else { return }
        let prefix = PromptBuilder.sharedPrefix(style: configuration.promptStyle)
        let started = ContinuousClock.now
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            modelQueue.async {
                do { try model.prepare(prefix: prefix) } catch {
                    self.logger.warning("narration prefix not prepared", metadata: ["error": "\(error)"])
                }
                c.resume()
            }
        }
        logger.debug("narration prefix prepared", metadata: ["ms": "\(Narrator.ms(since: started))"])
    }

    /// Narrates with the configured deadline from now.
    public func narrate(_ event: AnomalyEvent) async -> Narrative {
        await explain(event, deadline: .now.advanced(by: configuration.deadline)).narrative
    }

    /// Narrates with an explicit deadline; nil waits for the model however long it takes (replay).
    public func narrate(_ event: AnomalyEvent, deadline: ContinuousClock.Instant?) async -> Narrative {
        let local = await explain(event, deadline: deadline)
        guard let escalator, escalator.policy.qualifies(event, local: local.narrative) else { return local.narrative }
        return await escalate(local, to: escalator)
    }

    /// The template narrative for `event`, with `reason`.
    public func templateNarrative(_ event: AnomalyEvent, reason: String, started: ContinuousClock.Instant = .now,
                                  modelName: String? = nil) -> Narrative {
        let text = TemplateNarrator.narrate(Facts(event: event, catalog: catalog))
        return Narrative(text: text, source: .template, model: modelName, latencyMs: Narrator.ms(since: started),
                         verified: true, reason: reason)
    }

    public func explain(_ event: AnomalyEvent, deadline: ContinuousClock.Instant?) async -> Explanation {
        await explain(facts: Facts(event: event, catalog: catalog), eventID: event.id, deadline: deadline)
    }

    /// Narrates an incident: several events of one asset, the first-out first (see `Incident`). One text
    /// explains what went first, what followed and what the catalog's causes say such a pattern means.
    public func explainIncident(_ events: [AnomalyEvent], deadline: ContinuousClock.Instant?) async -> Explanation? {
        guard let facts = Incident.facts(events, catalog: catalog) else { return nil }
        return await explain(facts: facts, eventID: facts.eventID, deadline: deadline)
    }

    /// The narrative of the incident `events` (the first-out first): the model's verified text, or the
    /// incident template. Nil for fewer than two events or events of several assets.
    public func narrateIncident(_ events: [AnomalyEvent], deadline: ContinuousClock.Instant?) async -> IncidentNarrative? {
        guard let first = Self.firstOut(events), let x = await explainIncident(events, deadline: deadline) else { return nil }
        return IncidentNarrative(id: IncidentTracker.id(of: first), eventIDs: x.facts.incident?.eventIDs ?? events.map(\.id),
                                 narrative: x.narrative)
    }

    /// The incident template's narrative for `events`, with `reason` (no model involved).
    public func incidentTemplate(_ events: [AnomalyEvent], reason: String,
                                 started: ContinuousClock.Instant = .now) -> IncidentNarrative? {
        guard let first = Self.firstOut(events), let facts = Incident.facts(events, catalog: catalog) else { return nil }
        let narrative = Narrative(text: TemplateNarrator.narrate(facts), source: .template, model: model?.name,
                                  latencyMs: Narrator.ms(since: started), verified: true, reason: reason)
        return IncidentNarrative(id: IncidentTracker.id(of: first), eventIDs: facts.incident?.eventIDs ?? events.map(\.id),
                                 narrative: narrative)
    }

    static func firstOut(_ events: [AnomalyEvent]) -> AnomalyEvent? {
        events.min { $0.start != $1.start ? $0.start < $1.start : $0.id < $1.id }
    }

    func explain(facts: Facts, eventID: String, deadline: ContinuousClock.Instant?) async -> Explanation {
        let started = ContinuousClock.now
        func template(_ reason: String, prompt: NarrationPrompt? = nil, modelText: String? = nil,
                      completion: Completion? = nil, verdict: Verdict? = nil) -> Explanation {
            let narrative = Narrative(text: TemplateNarrator.narrate(facts), source: .template, model: model?.name,
                                      latencyMs: Narrator.ms(since: started), verified: true, reason: reason)
            return Explanation(facts: facts, prompt: prompt, modelText: modelText, completion: completion,
                               verdict: verdict, narrative: narrative)
        }
        guard let model else { return template("no model loaded") }
        let prompt = PromptBuilder.build(facts, style: configuration.promptStyle, forcedStart: configuration.forcedStart)
        let verifier = Verifier(facts: facts, catalog: catalog)
        var steer: (@Sendable (String) -> Bool)?
        if configuration.constrained {
            let numbers = FactConstraint(facts: facts)
            let start = prompt.answerStart
            steer = { @Sendable generated in
                let text = start + generated
                // Ending (a newline, or the engine's end-of-text as "\n") only where the text is complete
                // and, for an event that went up or down, has said which way.
                if let newline = text.firstIndex(of: "\n") {
                    let verdict = verifier.verify(String(text[..<newline]).trimmingSpaces())
                    return verdict.accepted && (facts.direction == .none || verdict.rightDirection)
                }
                return numbers.allows(text) && verifier.allowsPrefix(text)
                    && (start.isEmpty || Narrator.opensWithPredicate(generated))
            }
        }
        let request = CompletionRequest(
            prefix: prompt.prefix, suffix: prompt.suffix, stop: prompt.stop, maxTokens: configuration.maxTokens,
            deadline: deadline, constraint: steer, closeGap: configuration.constrained ? configuration.closeGap : nil,
            maxBacktracks: configuration.constrained ? configuration.backtracks : 0)

        let result = await runModel(model, request, deadline: deadline)
        let completion: Completion
        switch result {
        case .failure(let error):
            logger.warning("narration model failed", metadata: ["event": "\(eventID)", "error": "\(error)"])
            return template("model failed: \(error)", prompt: prompt)
        case .success(nil):
            return template("deadline passed before the model finished", prompt: prompt)
        case .success(let c?):
            completion = c
        }
        var text = Narrator.clean(prompt.answerStart + completion.text)
        if completion.stop == .deadline {
            return template("deadline passed before the model finished", prompt: prompt, modelText: text,
                            completion: completion)
        }
        var verdict = verifier.verify(text)
        if !verdict.accepted, let shorter = Narrator.longestVerifiedStart(of: text, verifier) {
            // The model went astray after a complete sentence (or was cut off where the steering left no
            // way on): keep what verifies, the model's own words up to a sentence end.
            text = shorter.text
            verdict = shorter.verdict
        }
        guard verdict.accepted else {
            return template("verifier: \(verdict.reason ?? "rejected")", prompt: prompt, modelText: text,
                            completion: completion, verdict: verdict)
        }
        let narrative = Narrative(text: text, source: .model, model: model.name,
                                  latencyMs: Narrator.ms(since: started), verified: true, reason: nil)
        return Explanation(facts: facts, prompt: prompt, modelText: text, completion: completion, verdict: verdict,
                           narrative: narrative)
    }

    /// Runs the model on its queue; returns nil if `deadline` passes first (the call then finishes
    /// on its own, bounded by the same deadline inside the engine).
    private func runModel(_ model: any NarrationModel, _ request: CompletionRequest,
                          deadline: ContinuousClock.Instant?) async -> Result<Completion?, any Error> {
        let once = Mutex<CheckedContinuation<Result<Completion?, any Error>, Never>?>(nil)
        let resume: @Sendable (Result<Completion?, any Error>) -> Void = { value in
            once.withLock { c in
                c?.resume(returning: value)
                c = nil
            }
        }
        return await withCheckedContinuation { continuation in
            once.withLock { $0 = continuation }
            modelQueue.async {
                if let deadline, ContinuousClock.now >= deadline { resume(.success(nil)); return }
                resume(Result { try model.complete(request) })
            }
            if let deadline {
                // A little grace for the engine to return what it has at its own deadline check.
                let wait = ContinuousClock.now.duration(to: deadline) + .milliseconds(100)
                let nanos = max(0, wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000)
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanos))) {
                    resume(.success(nil))
                }
            }
        }
    }

    /// The longest start of `text` that ends a sentence and passes the verifier: up to an existing
    /// sentence end, or the whole text closed with a full stop.
    /// After Vigil's forced start (`<sensor> on <asset>`), the model's first word must say what happened
    /// (`spiked`, `has`, `dropped`, …): otherwise it tends to run on into the related sensors' facts
    /// and say nothing of the event's own sensor. `generated` is the model's text so far.
    static func opensWithPredicate(_ generated: String) -> Bool {
        var word = ""
        for c in generated.drop(while: { $0 == " " }) {
            if c.isLetter { word.append(c); continue }
            return openers.contains(word.lowercased())
        }
        if word.isEmpty { return generated.allSatisfy { $0 == " " } }
        let w = word.lowercased()
        return openers.contains { $0.hasPrefix(w) }
    }

    static let openers: Set<String> = Vocabulary.predicates.union(["has", "is", "was", "had", "went"])

    /// The longest start of `text` that ends a sentence or a clause and passes the verifier: the whole
    /// text closed with a full stop, or cut at a sentence end, a comma or a semicolon (closed with a full
    /// stop). The verifier rejects what a cut leaves unfinished (`… dropped by.`).
    static func longestVerifiedStart(of text: String, _ verifier: Verifier) -> (text: String, verdict: Verdict)? {
        let chars = Array(text)
        var cuts: [Int] = [chars.count]
        for i in chars.indices where ".,;".contains(chars[i]) && (i + 1 == chars.count || chars[i + 1] == " ") {
            cuts.append(i)
        }
        var tried = Set<String>()
        for cut in cuts.sorted(by: >) {
            var candidate = String(chars[..<cut])
            while let last = candidate.last, last == "," || last == ";" || last == " " { candidate.removeLast() }
            guard !candidate.isEmpty else { continue }
            candidate += "."
            guard tried.insert(candidate).inserted else { continue }
            let v = verifier.verify(candidate)
            if v.accepted { return (candidate, v) }
        }
        return nil
    }

    /// The first line, trimmed; a leading `Alert:` the model may repeat is dropped.
    static func clean(_ raw: String) -> String {
        var text = Alphabet.normalize(raw)
        if let newline = text.firstIndex(where: { $0 == "\n" }) { text = String(text[..<newline]) }
        text = text.trimmingSpaces()
        if text.hasPrefix("Alert:") { text = String(text.dropFirst(6)).trimmingSpaces() }
        return text
    }

    static func ms(since start: ContinuousClock.Instant) -> Double {
        let d = start.duration(to: .now)
        return (d / .milliseconds(1)).rounded(toPlaces: 1)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
