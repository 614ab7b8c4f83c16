/// Where an alert's text came from.
public enum NarrativeSource: String, Sendable, Codable, Equatable {
    /// Written by the language model and accepted by the verifier.
    case model
    /// Vigil's deterministic template (the model was absent, late, or its text failed verification).
    case template
    /// Written by the plant's larger model (`narration.escalate`) and accepted by the verifier.
    case escalated
}

/// The plain-language text of an alert, with how it was made.
public struct Narrative: Sendable, Codable, Equatable {
    public var text: String
    public var source: NarrativeSource
    /// The model that wrote (or tried to write) the text; nil when no model was involved.
    public var model: String?
    /// Wall time from the start of narration to the final text, in milliseconds.
    public var latencyMs: Double
    /// True when the text passed the verifier (template text is verified too).
    public var verified: Bool
    /// Why the template was used; nil for model text.
    public var reason: String?

    public init(
        text: String, source: NarrativeSource, model: String? = nil, latencyMs: Double, verified: Bool,
        reason: String? = nil
    ) {
        self.text = text
        self.source = source
        self.model = model
        // Tenths of a millisecond: a sum of rounded latencies (escalation) carries no binary noise.
        self.latencyMs = (latencyMs * 10).rounded() / 10
        self.verified = verified
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case text, source, model
        case latencyMs = "latency_ms"
        case verified, reason
    }
}
