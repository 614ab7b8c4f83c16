import Detection
import Logging
import Synchronization

/// An event with the narrative the operator will read.
public struct NarratedEvent: Sendable {
    public var event: AnomalyEvent
    public var narrative: Narrative
    /// For an opened event that followed others of its asset (see `IncidentTracker`): the one text that
    /// explains the incident so far.
    public var incident: IncidentNarrative?

    public init(event: AnomalyEvent, narrative: Narrative, incident: IncidentNarrative? = nil) {
        self.event = event
        self.narrative = narrative
        self.incident = incident
    }
}

/// Narrates alerts off the detection path. `submit` never waits: events queue (bounded, oldest
/// dropped first, each drop counted and still delivered with the template) and `run()` narrates them
/// one at a time, each against a deadline counted from its submission. A storm on one asset becomes one
/// model narration per cooldown (event time); the rest get the template.
///
/// Results come out in the order the events were submitted, whatever the queue did (a dropped event
/// waits for the narration in progress before it): an event's `resolved` never overtakes its `opened`.
///
/// An opened event that follows others of its asset (an incident: `IncidentTracker`) gets, besides its
/// own text, one text that explains the incident (what went first, what followed, the catalog's causes).
/// The model's time goes to that explanation: the follower's own text is the template, and an asset's
/// incident is model-narrated at most once per cooldown (later followers get the incident template).
///
/// In `.deterministic` mode (replay) nothing is dropped, there is no deadline and events are narrated
/// in order, so the same input gives the same text.
public final class NarrationWorker: Sendable {
    public enum Mode: Sendable, Equatable {
        case live
        case deterministic
    }

    public struct Counts: Sendable, Equatable {
        public var submitted = 0
        public var delivered = 0
        public var byModel = 0
        public var byTemplate = 0
        /// Dropped from the model queue because it was full (delivered with the template).
        public var dropped = 0
        /// Given the template because their asset was narrated within the cooldown.
        public var coolingDown = 0
        public var deadlineMissed = 0
        /// Incident explanations delivered, and those the model wrote.
        public var incidents = 0
        public var incidentsByModel = 0
    }

    private struct Pending {
        /// Submission order; results are delivered in it.
        var sequence: Int
        var event: AnomalyEvent
        var submitted: ContinuousClock.Instant
        /// The incident's events (the first-out first) when `event` is a follower.
        var incident: [AnomalyEvent]?
    }

    private struct State {
        var queue: [Pending] = []
        var head = 0
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
        var lastModelRun: [String: Int64] = [:]
        var lastIncidentRun: [String: Int64] = [:]
        var tracker: IncidentTracker
        var counts = Counts()
        /// The sequence number of the next submission, and of the next result to deliver.
        var nextSequence = 0
        var nextToDeliver = 0
        /// Results narrated ahead of an earlier submission still being narrated.
        var ready: [Int: NarratedEvent] = [:]

        var pendingCount: Int { queue.count - head }

        mutating func pop() -> Pending? {
            guard head < queue.count else { return nil }
            let p = queue[head]
            head += 1
            if head > 64 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return p
        }
    }

    public let narrator: Narrator
    public let mode: Mode
    /// Every submitted event comes out here exactly once, with its narrative.
    public let results: AsyncStream<NarratedEvent>
    private let continuation: AsyncStream<NarratedEvent>.Continuation
    private let state: Mutex<State>
    private let logger: Logger

    public init(narrator: Narrator, mode: Mode = .live, logger: Logger) {
        self.narrator = narrator
        self.mode = mode
        self.logger = logger
        state = Mutex(State(tracker: IncidentTracker(window: narrator.configuration.incidentWindow)))
        (results, continuation) = AsyncStream.makeStream(of: NarratedEvent.self, bufferingPolicy: .unbounded)
    }

    public var counts: Counts { state.withLock { $0.counts } }
    public var queueDepth: Int { state.withLock { $0.pendingCount } }

    /// Hands an event to narration. Never blocks on the model.
    public func submit(_ event: AnomalyEvent) {
        let capacity = max(1, narrator.configuration.queueCapacity)
        let (dropped, waiter, accepted, sequence) = state.withLock { s -> (Pending?, CheckedContinuation<Void, Never>?, Bool, Int) in
            let sequence = s.nextSequence
            s.nextSequence += 1
            let incident = s.tracker.record(event)
            guard !s.finished else { return (nil, nil, false, sequence) }
            s.counts.submitted += 1
            var dropped: Pending?
            if mode == .live, s.pendingCount >= capacity {
                dropped = s.pop()
                s.counts.dropped += 1
            }
            s.queue.append(Pending(sequence: sequence, event: event, submitted: .now, incident: incident))
            let w = s.waiter
            s.waiter = nil
            return (dropped, w, true, sequence)
        }
        if !accepted {
            logger.warning("narration worker finished; event narrated by template", metadata: ["event": "\(event.id)"])
            deliver(sequence, event, narrator.templateNarrative(event, reason: "narration worker stopped"))
        }
        if let dropped {
            logger.notice("narration queue full; oldest alert gets the template", metadata: ["event": "\(dropped.event.id)"])
            let reason = "narration queue full (oldest dropped)"
            deliver(dropped.sequence, dropped.event, narrator.templateNarrative(
                dropped.event, reason: reason, started: dropped.submitted),
                incident: dropped.incident.flatMap { narrator.incidentTemplate($0, reason: reason, started: dropped.submitted) })
        }
        waiter?.resume()
    }

    /// No more events: `run()` returns once the queue is drained, and `results` ends.
    public func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Narrates queued events until `finish()` (after draining) or cancellation.
    public func run() async {
        defer { continuation.finish() }
        await narrator.prepare()   // the shared prompt prefix, before the first alert needs it
        while !Task.isCancelled {
            if let next = state.withLock({ $0.pop() }) {
                await process(next)
                continue
            }
            let done = await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if s.pendingCount > 0 || s.finished || Task.isCancelled { return true }
                        s.waiter = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
                return state.withLock { $0.finished && $0.pendingCount == 0 }
            } onCancel: {
                let w = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    let w = s.waiter
                    s.waiter = nil
                    return w
                }
                w?.resume()
            }
            if done { break }
        }
        // Cancelled: whatever is still queued gets the template, so no alert is lost.
        while let left = state.withLock({ $0.pop() }) {
            deliver(left.sequence, left.event, narrator.templateNarrative(left.event, reason: "narration stopped",
                                                           started: left.submitted),
                    incident: left.incident.flatMap { narrator.incidentTemplate($0, reason: "narration stopped", started: left.submitted) })
        }
    }

    private func process(_ p: Pending) async {
        let event = p.event
        let configuration = narrator.configuration
        if let incident = p.incident, event.stage == .opened {
            await processFollower(p, incident)
            return
        }
        if event.stage == .resolved && !configuration.narrateResolved {
            deliver(p.sequence, event, narrator.templateNarrative(event, reason: "resolved events use the template",
                                                      started: p.submitted))
            return
        }
        let cooldownMs = configuration.cooldown.milliseconds
        let cooling = state.withLock { s -> Bool in
            if let last = s.lastModelRun[event.asset], event.detectedAt >= last, event.detectedAt - last < cooldownMs {
                s.counts.coolingDown += 1
                return true
            }
            if narrator.model != nil { s.lastModelRun[event.asset] = event.detectedAt }
            return false
        }
        if cooling {
            deliver(p.sequence, event, narrator.templateNarrative(event, reason: "asset narrated within the cooldown",
                                                      started: p.submitted, modelName: narrator.model?.name))
            return
        }
        var narrative: Narrative
        if mode == .deterministic {
            narrative = await narrator.narrate(event, deadline: nil)
        } else {
            let deadline = p.submitted.advanced(by: configuration.deadline)
            if ContinuousClock.now >= deadline {
                narrative = narrator.templateNarrative(event, reason: "deadline passed while queued",
                                                       started: p.submitted, modelName: narrator.model?.name)
            } else {
                narrative = await narrator.narrate(event, deadline: deadline)
            }
            // Latency as the operator sees it: from submission.
            narrative.latencyMs = Narrator.ms(since: p.submitted)
        }
        if narrative.reason?.hasPrefix("deadline") == true {
            state.withLock { $0.counts.deadlineMissed += 1 }
        }
        deliver(p.sequence, event, narrative)
    }

    /// A follower: its own text by the template, the model's time for the incident's explanation (at most
    /// once per asset per cooldown, event time; the incident template otherwise).
    private func processFollower(_ p: Pending, _ events: [AnomalyEvent]) async {
        let event = p.event
        let configuration = narrator.configuration
        let cooldownMs = configuration.cooldown.milliseconds
        let cooling = state.withLock { s -> Bool in
            if let last = s.lastIncidentRun[event.asset], event.detectedAt >= last, event.detectedAt - last < cooldownMs {
                return true
            }
            if narrator.model != nil {
                s.lastIncidentRun[event.asset] = event.detectedAt
                s.lastModelRun[event.asset] = event.detectedAt
            }
            return false
        }
        let own = narrator.templateNarrative(
            event, reason: narrator.model == nil ? "no model loaded" : "the model explained the incident instead",
            started: p.submitted, modelName: narrator.model?.name)
        var incident: IncidentNarrative?
        if narrator.model == nil || cooling {
            incident = narrator.incidentTemplate(
                events, reason: narrator.model == nil ? "no model loaded" : "incident narrated within the cooldown",
                started: p.submitted)
        } else if mode == .deterministic {
            incident = await narrator.narrateIncident(events, deadline: nil)
        } else {
            let deadline = p.submitted.advanced(by: configuration.deadline)
            if ContinuousClock.now >= deadline {
                incident = narrator.incidentTemplate(events, reason: "deadline passed while queued", started: p.submitted)
            } else {
                incident = await narrator.narrateIncident(events, deadline: deadline)
            }
            incident?.narrative.latencyMs = Narrator.ms(since: p.submitted)
        }
        if incident?.narrative.reason?.hasPrefix("deadline") == true {
            state.withLock { $0.counts.deadlineMissed += 1 }
        }
        deliver(p.sequence, event, own, incident: incident)
    }

    /// Releases results in submission order: this one, and any later ones it was holding back.
    /// Yielded under the lock, so two threads delivering at once cannot swap them.
    private func deliver(_ sequence: Int, _ event: AnomalyEvent, _ narrative: Narrative,
                         incident: IncidentNarrative? = nil) {
        state.withLock { s in
            s.counts.delivered += 1
            if narrative.source == .model { s.counts.byModel += 1 } else { s.counts.byTemplate += 1 }
            if let incident {
                s.counts.incidents += 1
                if incident.narrative.source == .model { s.counts.incidentsByModel += 1 }
            }
            s.ready[sequence] = NarratedEvent(event: event, narrative: narrative, incident: incident)
            while let next = s.ready.removeValue(forKey: s.nextToDeliver) {
                continuation.yield(next)
                s.nextToDeliver += 1
            }
        }
    }
}
