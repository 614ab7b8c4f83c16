import Detection
import Narration

/// Writes the narrative of an alert. The narration stage (model + verifier + template) conforms to it.
public protocol EventNarrating: Sendable {
    func narrate(_ event: AnomalyEvent) async -> Narrative
    /// One text for an incident: `events` of one asset, the first-out first. Nil: not narrated.
    func narrateIncident(_ events: [AnomalyEvent]) async -> AlertIncident?
    /// How long after the first-out event's start a follower still belongs to its incident.
    var incidentWindow: Duration { get }
}

extension EventNarrating {
    public func narrateIncident(_ events: [AnomalyEvent]) async -> AlertIncident? { nil }
    public var incidentWindow: Duration { .seconds(600) }
}
