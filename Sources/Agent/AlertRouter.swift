import Detection
import Narration
import Telemetry

/// One path from a narrated event to what leaves the agent, for the live agent (`PublisherService`) and
/// replay (`ReplayRunner`) alike: the alert, its local messages (the alert topic, and the retained active
/// alarm set or cleared), and the upstream incident when the distiller says one is due.
struct AlertRouter {
    /// A message for the local broker.
    struct LocalMessage {
        var topic: String
        var payload: [UInt8]
        var retain: Bool
    }

    /// What one narrated event became.
    struct Routed {
        var alert: AlertMessage
        /// The alert's JSON (what the alert topic and the active alarm carry).
        var body: [UInt8]
        var local: [LocalMessage]
        var upstream: UpstreamIncident?
    }

    let catalog: Catalog
    let topics: AgentTopics
    var distiller: UpstreamDistiller

    init(catalog: Catalog, topics: AgentTopics) {
        self.catalog = catalog
        self.topics = topics
        distiller = UpstreamDistiller(site: topics.site)
    }

    /// Routes one event with its narrative (and its incident's, when it followed others on its asset).
    /// Throws when the alert cannot be encoded; the distiller has then not seen it.
    mutating func route(_ event: AnomalyEvent, narrative: Narrative, incident: AlertIncident?) throws -> Routed {
        let alert = AlertMessage(event: event, catalog: catalog, agent: topics.agent, narrative: narrative, incident: incident)
        let body = try alert.jsonBytes()
        let sensor = event.sensor.rawValue
        var local = [LocalMessage(topic: topics.alert(asset: event.asset, sensor: sensor), payload: body, retain: false)]
        switch event.stage {
        case .opened: local.append(LocalMessage(topic: topics.active(sensor: sensor), payload: body, retain: true))
        case .resolved: local.append(LocalMessage(topic: topics.active(sensor: sensor), payload: [], retain: true))
        }
        return Routed(alert: alert, body: body, local: local, upstream: distiller.distill(alert))
    }
}
