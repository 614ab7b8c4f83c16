import Detection

/// Writes the narrative of an alert. The narration stage (model + verifier + template) conforms to it.
public protocol EventNarrating: Sendable {
    func narrate(_ event: AnomalyEvent) async -> AlertNarrative
}
