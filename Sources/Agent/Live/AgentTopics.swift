/// The MQTT topics of one agent (DESIGN.md, "Messages").
public struct AgentTopics: Sendable {
    public var prefix: String
    public var agent: String
    public var site: String
    public var upstreamEvents: String

    public init(prefix: String, agent: String, site: String, upstreamEvents: String? = nil) {
        self.prefix = prefix
        self.agent = agent
        self.site = site
        self.upstreamEvents = upstreamEvents ?? "\(prefix)/\(site)/\(agent)/events"
    }

    /// `vigil/<agent>/alerts/<asset>/<sensor>`, QoS 1.
    public func alert(asset: String, sensor: String) -> String { "\(prefix)/\(agent)/alerts/\(asset)/\(sensor)" }
    /// `vigil/<agent>/active/<sensor>`, retained; cleared by an empty retained message.
    public func active(sensor: String) -> String { "\(prefix)/\(agent)/active/\(sensor)" }
    /// `vigil/<agent>/status`, retained; the last will says offline.
    public var status: String { "\(prefix)/\(agent)/status" }
    /// `vigil/<site>/<agent>/status` upstream (through the outbox).
    public var upstreamStatus: String { "\(prefix)/\(site)/\(agent)/status" }
}
