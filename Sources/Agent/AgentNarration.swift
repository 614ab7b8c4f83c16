import Detection
import Logging
import Narration
import Telemetry

/// Connects the Narration stage to the pipeline's `EventNarrating` seam.
public enum AgentNarration {
    /// The narrator replay uses: every event in order, no deadline (so the same recording always
    /// gives the same text), the model when one is given, the template otherwise.
    public static func replayNarrator(catalog: Catalog, model: (any NarrationModel)? = nil,
                                      logger: Logger = Logger(label: "vigil.narration")) throws -> any EventNarrating {
        NarratorAdapter(narrator: Narrator(catalog: catalog, model: model, configuration: NarrationConfiguration(), logger: logger),
                        deadline: nil)
    }
}

/// Maps the Narration module's `Narrative` onto the alert's narrative field.
extension AlertNarrative {
    public init(_ n: Narrative) {
        self.init(text: n.text, source: n.source.rawValue, model: n.model, latencyMs: (n.latencyMs * 10).rounded() / 10,
                  verified: n.verified, reason: n.reason)
    }
}

struct NarratorAdapter: EventNarrating {
    let narrator: Narrator
    let deadline: Duration?

    func narrate(_ event: AnomalyEvent) async -> AlertNarrative {
        let due = deadline.map { ContinuousClock.now + $0 }
        return AlertNarrative(await narrator.narrate(event, deadline: due))
    }
}
