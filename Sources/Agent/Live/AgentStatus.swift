import Foundation

/// The status message (schemas/status.schema.json), retained on `vigil/<agent>/status`.
public struct AgentStatus: Sendable, Codable, Equatable {
    public var schema = "vigil.status/1"
    public var agent: String
    public var state: String
    public var version: String
    public var model: String?
    public var modelBundle: ModelProvenance?
    public var startedAt: String?
    public var uptimeS: Double?
    public var counts: [String: Int]?
    public var outbox: [String: Int]?
    /// Rolling narration figures and drift warnings (nil while narration is off).
    public var narration: NarrationDriftFigures?

    public init(agent: String, state: String, version: String, model: String? = nil, modelBundle: ModelProvenance? = nil,
                startedAt: String? = nil, uptimeS: Double? = nil, counts: [String: Int]? = nil, outbox: [String: Int]? = nil,
                narration: NarrationDriftFigures? = nil) {
        self.agent = agent
        self.state = state
        self.version = version
        self.model = model
        self.modelBundle = modelBundle
        self.startedAt = startedAt
        self.uptimeS = uptimeS
        self.counts = counts
        self.outbox = outbox
        self.narration = narration
    }

    enum CodingKeys: String, CodingKey {
        case schema, agent, state, version, model, counts, outbox, narration
        case modelBundle = "model_bundle"
        case startedAt = "started_at"
        case uptimeS = "uptime_s"
    }

    public func jsonBytes() -> [UInt8] {
        (try? [UInt8](AlertMessage.encoder.encode(self))) ?? Array("{\"schema\":\"vigil.status/1\",\"agent\":\"\(agent)\",\"state\":\"\(state)\"}".utf8)
    }
}

/// Wall-clock milliseconds since the epoch.
func wallClockMillis() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded())
}
