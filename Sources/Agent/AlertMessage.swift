import Detection
import Foundation
import Narration
import Telemetry

/// The incident an opened alert's event belongs to, when it followed other events of its asset: one text
/// that explains the incident (what went first, what followed, what that usually means).
public struct AlertIncident: Sendable, Codable, Equatable {
    /// `<asset>:<start of the first-out event, epoch ms>`.
    public var id: String
    /// The first-out event's id.
    public var firstEvent: String
    /// The events the text explains, the first-out first (this alert's event among them).
    public var events: [String]
    public var narrative: Narrative

    public init(id: String, firstEvent: String, events: [String], narrative: Narrative) {
        self.id = id
        self.firstEvent = firstEvent
        self.events = events
        self.narrative = narrative
    }

    enum CodingKeys: String, CodingKey {
        case id, events, narrative
        case firstEvent = "first_event"
    }
}

/// One related sensor's deviation as an alert reports it (with its name and unit).
public struct AlertRelated: Sendable, Codable, Equatable {
    public var sensor: String
    public var name: String
    public var unit: String
    public var value: Double
    public var baseline: Double
    public var deviation: Double
    public var score: Double
}

/// The facts of an alert: the numbers Vigil itself computed.
public struct AlertFacts: Sendable, Codable, Equatable {
    public var baseline: Double
    public var peak: Double
    public var deviation: Double
    public var durationS: Double
    public var limit: Double?
    public var related: [AlertRelated]

    enum CodingKeys: String, CodingKey {
        case baseline, peak, deviation, limit, related
        case durationS = "duration_s"
    }
}

/// The alert published on `vigil/<agent>/alerts/<asset>/<sensor>` (schemas/alert.schema.json).
public struct AlertMessage: Sendable, Codable, Equatable {
    public var schema = "vigil.alert/1"
    public var eventID: String
    public var stage: String
    public var agent: String
    public var sensor: String
    public var sensorName: String
    public var unit: String
    public var asset: String
    public var assetName: String
    public var kind: String
    public var severity: String
    public var score: Double
    public var start: String
    public var end: String?
    public var detectedAt: String
    public var facts: AlertFacts
    public var narrative: Narrative
    /// Present on an opened alert whose event followed others of its asset (see `AlertIncident`).
    public var incident: AlertIncident?
    public var window: [WindowPoint]?

    enum CodingKeys: String, CodingKey {
        case schema, stage, agent, sensor, unit, asset, kind, severity, score, start, end, facts, narrative, incident, window
        case eventID = "event_id"
        case sensorName = "sensor_name"
        case assetName = "asset_name"
        case detectedAt = "detected_at"
    }

    public init(event: AnomalyEvent, catalog: Catalog, agent: String, narrative: Narrative,
                incident: AlertIncident? = nil, includeWindow: Bool = true) {
        let sensor = catalog.sensor(event.sensor)
        let decimals = sensor?.decimals ?? 3
        func round(_ x: Double, _ d: Int) -> Double { AlertMessage.round(x, decimals: d) }
        eventID = event.id
        stage = event.stage.rawValue
        self.agent = agent
        self.sensor = event.sensor.rawValue
        sensorName = sensor?.name ?? event.sensor.rawValue
        unit = sensor?.unit ?? ""
        asset = event.asset
        assetName = catalog.asset(event.asset)?.name ?? event.asset
        kind = event.kind.rawValue
        severity = event.severity.rawValue
        score = round(event.score, 2)
        start = Timestamp.rfc3339(event.start)
        end = event.end.map(Timestamp.rfc3339)
        detectedAt = Timestamp.rfc3339(event.detectedAt)
        facts = AlertFacts(
            baseline: round(event.baseline, decimals), peak: round(event.peak, decimals),
            deviation: round(event.deviation, decimals), durationS: round(event.duration, 1),
            limit: event.limit.map(AlertMessage.finite),
            related: event.related.map { r in
                let s = catalog.sensor(r.sensor)
                let d = s?.decimals ?? 3
                return AlertRelated(sensor: r.sensor.rawValue, name: s?.name ?? r.sensor.rawValue, unit: s?.unit ?? "",
                                    value: round(r.value, d), baseline: round(r.baseline, d),
                                    deviation: round(r.deviation, d), score: round(r.score, 2))
            })
        self.narrative = narrative
        self.incident = incident
        window = includeWindow ? event.window.map { WindowPoint(t: $0.t, v: AlertMessage.finite($0.v)) } : nil
    }

    /// `x` rounded to `decimals` + 2 places (at most 9), always finite: JSON has no NaN or infinity,
    /// and a number too large to scale is kept as it is rather than overflowing to infinity.
    static func round(_ x: Double, decimals: Int) -> Double {
        let x = finite(x)
        let scale = pow(10.0, Double(max(0, min(decimals + 2, 9))))
        let scaled = x * scale
        // Past 2^53 a double has no fraction left to round.
        guard scaled.isFinite, abs(scaled) < 9.0e15 else { return x }
        return scaled.rounded() / scale
    }

    /// NaN as 0, ±infinity as the largest finite double of its sign: what an encoder can write.
    static func finite(_ x: Double) -> Double {
        if x.isFinite { return x }
        if x.isNaN { return 0 }
        return x < 0 ? -Double.greatestFiniteMagnitude : Double.greatestFiniteMagnitude
    }

    /// Compact JSON with sorted keys: the same alert always gives the same bytes.
    public func jsonBytes() throws -> [UInt8] {
        try [UInt8](AlertMessage.encoder.encode(self))
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
