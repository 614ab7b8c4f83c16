import Detection

/// Which alerts go to the larger model (`narration.escalate.when`).
public struct EscalationPolicy: Sendable, Equatable {
    /// Critical events, whatever the local text.
    public var critical: Bool
    /// Events whose local model text failed the verifier (or whose model failed).
    public var rejected: Bool

    public init(critical: Bool = true, rejected: Bool = true) {
        self.critical = critical
        self.rejected = rejected
    }

    /// Whether `event`, narrated locally as `local`, is escalated. Events the template narrates by
    /// design (resolved events, an asset within its cooldown) and deadline misses are not: the
    /// larger model is for hard cases, not for a storm.
    public func qualifies(_ event: AnomalyEvent, local: Narrative) -> Bool {
        guard event.stage == .opened else { return false }
        if critical && event.severity == .critical { return true }
        guard rejected, local.source == .template, let reason = local.reason else { return false }
        return reason.hasPrefix("verifier: ") || reason.hasPrefix("model failed")
    }
}

/// How an escalation ended (`vigil_narration_escalations_total{outcome}`).
public enum EscalationOutcome: String, Sendable, CaseIterable {
    /// The reply passed the verifier and is the alert's text.
    case accepted
    /// The reply failed the verifier; the local text stands.
    case rejected
    /// The endpoint refused (HTTP 4xx, a refusal or content filter, an empty reply).
    case refused
    /// No reply within `narration.escalate.deadline`.
    case timeout
    /// The endpoint could not be reached.
    case unreachable
    /// Anything else (HTTP 5xx, a reply that is not the chat completion format).
    case error
}

/// A larger model the plant runs privately (an OpenAI-compatible chat endpoint). It is handed only
/// the facts Vigil formats for the alert, never readings or windows; its reply passes the same
/// verifier as local model text.
public protocol NarrationEscalating: Sendable {
    /// The remote model's name, as alerts carry it.
    var name: String { get }
    var policy: EscalationPolicy { get }
    /// One chat completion; throws an `EscalationError` naming the outcome.
    func complete(system: String, user: String) async throws -> String
    /// Told how each escalation ended (metrics).
    func record(_ outcome: EscalationOutcome)
}

public struct EscalationError: Error, Sendable, CustomStringConvertible {
    public var outcome: EscalationOutcome
    public var message: String
    public init(_ outcome: EscalationOutcome, _ message: String) {
        self.outcome = outcome
        self.message = message
    }
    public var description: String { "\(outcome.rawValue): \(message)" }
}

extension Narrator {
    /// `local`'s event through the escalation endpoint: the reply when it verifies (source
    /// `escalated`), `local` otherwise (its reason then also says why the reply was not used).
    func escalate(_ local: Explanation, to escalator: any NarrationEscalating) async -> Narrative {
        let started = ContinuousClock.now
        var kept = local.narrative
        func keep(_ why: String) -> Narrative {
            if kept.source == .template { kept.reason = (kept.reason.map { $0 + "; " } ?? "") + "escalation: " + why }
            kept.latencyMs += Narrator.ms(since: started)
            return kept
        }
        let reply: String
        do {
            reply = try await escalator.complete(system: PromptBuilder.escalationSystem, user: PromptBuilder.tunedUser(local.facts))
        } catch let error as EscalationError {
            escalator.record(error.outcome)
            logger.warning("escalation failed; the local text stands", metadata: ["outcome": "\(error.outcome.rawValue)", "error": "\(error.message)"])
            return keep(error.outcome.rawValue)
        } catch {
            escalator.record(.error)
            return keep("error")
        }
        let verifier = Verifier(facts: local.facts, catalog: catalog)
        var text = Narrator.clean(reply)
        var verdict = verifier.verify(text)
        if !verdict.accepted, let shorter = Narrator.longestVerifiedStart(of: text, verifier) {
            text = shorter.text
            verdict = shorter.verdict
        }
        guard verdict.accepted else {
            escalator.record(.rejected)
            logger.info("escalated reply rejected by the verifier", metadata: ["reason": "\(verdict.reason ?? "rejected")"])
            return keep("reply rejected by the verifier (\(verdict.reason ?? "rejected"))")
        }
        escalator.record(.accepted)
        return Narrative(text: text, source: .escalated, model: escalator.name,
                         latencyMs: local.narrative.latencyMs + Narrator.ms(since: started), verified: true, reason: nil)
    }
}
