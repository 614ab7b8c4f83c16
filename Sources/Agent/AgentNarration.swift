import Detection
import Logging
import Narration
import Telemetry

/// Connects the Narration stage to the pipeline's `EventNarrating` seam.
public enum AgentNarration {
    /// The narrator replay uses: every event in order, no deadline (so the same recording always
    /// gives the same text), the model when one is given, the template otherwise.
    /// `tuned`: the prompt of a model with the narration adapter (no few-shot prefix, no forced start).
    public static func replayNarrator(catalog: Catalog, model: (any NarrationModel)? = nil, tuned: Bool = false,
                                      logger: Logger = Logger(label: "vigil.narration")) throws -> any EventNarrating {
        NarratorAdapter(narrator: Narrator(catalog: catalog, model: model, configuration: configuration(tuned: tuned),
                                           logger: logger),
                        deadline: nil)
    }

    /// The narration settings for a model with (`tuned`) or without the narration adapter.
    public static func configuration(tuned: Bool) -> NarrationConfiguration {
        var c = NarrationConfiguration()
        if tuned {
            c.promptStyle = .tuned
            c.forcedStart = false
        }
        return c
    }
}

extension AlertIncident {
    public init(_ n: IncidentNarrative) {
        self.init(id: n.id, firstEvent: n.eventIDs.first ?? "", events: n.eventIDs, narrative: n.narrative)
    }
}

struct NarratorAdapter: EventNarrating {
    let narrator: Narrator
    let deadline: Duration?

    func narrate(_ event: AnomalyEvent) async -> Narrative {
        let due = deadline.map { ContinuousClock.now + $0 }
        return await narrator.narrate(event, deadline: due)
    }

    func narrateIncident(_ events: [AnomalyEvent]) async -> AlertIncident? {
        let due = deadline.map { ContinuousClock.now + $0 }
        return await narrator.narrateIncident(events, deadline: due).map(AlertIncident.init)
    }

    var incidentWindow: Duration { narrator.configuration.incidentWindow }
}
