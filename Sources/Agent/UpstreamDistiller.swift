import Detection
import Foundation
import Telemetry

/// What goes upstream: one incident per asset, not one message per alert.
///
/// Locally every event stage is an alert (dashboards want them all). Upstream — a metered uplink to
/// a site or fleet system — gets the distilled view: an incident opens with the first event on an
/// asset, escalates when a later event on the same asset is more severe, and resolves when the last
/// of its events resolves, carrying what happened in between (how many events, which kinds, which
/// sensors). An alert storm on one machine is one incident upstream.
/// (schemas/event.schema.json, `vigil.event/2`.)
public struct UpstreamIncident: Sendable, Codable, Equatable {
    /// The latest verified text that explains the incident as a whole (what went first, what followed),
    /// from the alert of the latest event that followed the first-out one.
    public struct Explanation: Sendable, Codable, Equatable {
        public var text: String
        /// `model` or `template`.
        public var source: String
        /// The events it explains, the first-out first.
        public var events: [String]
    }

    public enum Stage: String, Sendable, Codable {
        case opened, escalated, resolved
    }

    public var schema = "vigil.event/2"
    public var site: String
    /// `<asset>:<start of its first event, epoch ms>`; the same in every stage of one incident.
    public var incident: String
    public var stage: Stage
    /// The asset's catalog id (its name is in `text`).
    public var asset: String
    /// The highest severity reached so far.
    public var severity: String
    public var start: String
    public var end: String?
    /// The event this stage is about: the first (opened), the more severe one (escalated) or the most
    /// severe one (resolved).
    public var sensor: String
    public var kind: String
    public var unit: String
    public var baseline: Double
    public var peak: Double
    /// The alert's text (opened and escalated); resolved stages carry the summary fields instead.
    public var text: String?
    /// `model` or `template`, with `text`.
    public var source: String?
    /// Resolved: events folded into the incident; their kinds and sensors (at most 8 each) when they are
    /// more than the stage's own `kind` and `sensor`.
    public var events: Int?
    public var kinds: [String]?
    public var sensors: [String]?
    /// Escalated and resolved stages of an incident of two or more events: the incident's explanation.
    public var explanation: Explanation?

    enum CodingKeys: String, CodingKey {
        case schema, site, incident, stage, asset, severity, start, end, sensor, kind, unit, baseline, peak, text,
             source, events, kinds, sensors, explanation
    }

    /// The outbox key: the same for every delivery of this stage, so consumers drop repeats.
    public func idempotencyKey(agent: String) -> String {
        switch stage {
        case .escalated: "\(agent):\(incident):escalated:\(severity)"
        case .opened, .resolved: "\(agent):\(incident):\(stage.rawValue)"
        }
    }

    public var severityRank: Int { Severity(rawValue: severity)?.rank ?? 0 }

    /// Compact JSON with sorted keys: the same incident always gives the same bytes.
    public func jsonBytes() throws -> [UInt8] {
        try [UInt8](AlertMessage.encoder.encode(self))
    }
}

/// Folds the stream of alerts into upstream incidents. Feed it every alert in order; it returns the
/// incident stage to send, or nil when the alert is folded into an incident already reported.
/// Memory is bounded by the number of assets with open events.
public struct UpstreamDistiller: Sendable {
    /// At most this many kinds and sensors are listed in a resolved stage.
    static let listLimit = 8

    /// An incident still open, as it is saved across restarts (`UpstreamIncidentFile`).
    public struct Open: Sendable, Codable, Equatable {
        var incident: UpstreamIncident
        var openEvents: Set<String>
        var events: Int
        var kinds: [String]
        var sensors: [String]
        var worst: AlertMessage
        /// The latest incident explanation an alert carried (absent in files of earlier releases).
        var explanation: UpstreamIncident.Explanation?
    }

    public let site: String
    private var open: [String: Open] = [:]

    public init(site: String) {
        self.site = site
    }

    /// Assets with an incident open now.
    public var openIncidents: Int { open.count }

    /// The open incidents, to save: a restart must not forget them.
    public var saved: [Open] { open.keys.sorted().compactMap { open[$0] } }

    /// Takes back the incidents saved by an earlier run. An incident whose asset has events open in
    /// the restored detector stays open, waiting for those events; the others were left open by a
    /// crash (their resolved alerts never came, or came unsaved) and are resolved now, at `now`.
    /// Returns those resolved stages, to send.
    public mutating func restore(_ saved: [Open], openEvents: [AnomalyEvent], now: String) -> [UpstreamIncident] {
        var byAsset: [String: Set<String>] = [:]
        for e in openEvents where e.stage == .opened { byAsset[e.asset, default: []].insert(e.id) }
        var resolved: [UpstreamIncident] = []
        for var entry in saved where open[entry.incident.asset] == nil {
            let asset = entry.incident.asset
            if let events = byAsset[asset], !events.isEmpty {
                entry.openEvents = events
                open[asset] = entry
                continue
            }
            var incident = Self.stage(.resolved, of: entry.worst, site: site, incident: entry.incident.incident)
            incident.severity = entry.incident.severity
            incident.start = entry.incident.start
            incident.end = now
            incident.events = entry.events
            incident.kinds = entry.kinds == [incident.kind] ? nil : entry.kinds
            incident.sensors = entry.sensors == [incident.sensor] ? nil : entry.sensors
            incident.explanation = entry.explanation
            resolved.append(incident)
        }
        return resolved
    }

    public mutating func distill(_ alert: AlertMessage) -> UpstreamIncident? {
        let asset = alert.asset
        if alert.stage == EventStage.opened.rawValue {
            guard var current = open[asset] else {
                let incident = Self.stage(.opened, of: alert, site: site, incident: Self.incidentID(alert))
                open[asset] = Open(incident: incident, openEvents: [alert.eventID], events: 1, kinds: [alert.kind],
                                   sensors: [alert.sensor], worst: alert)
                return incident
            }
            current.openEvents.insert(alert.eventID)
            current.events += 1
            Self.appendBounded(alert.kind, to: &current.kinds)
            Self.appendBounded(alert.sensor, to: &current.sensors)
            if let explained = alert.incident {
                current.explanation = .init(text: explained.narrative.text, source: explained.narrative.source.rawValue,
                                            events: explained.events)
            }
            defer { open[asset] = current }
            guard Self.rank(alert.severity) > Self.rank(current.incident.severity) else { return nil }
            current.worst = alert
            current.incident.severity = alert.severity
            var escalated = Self.stage(.escalated, of: alert, site: site, incident: current.incident.incident)
            escalated.explanation = current.explanation
            return escalated
        }

        // Resolved.
        guard var current = open[asset] else {
            // An event opened before a restart: its incident is unknown here, so it closes one of its own.
            var incident = Self.stage(.resolved, of: alert, site: site, incident: Self.incidentID(alert))
            incident.end = alert.end
            incident.events = 1
            return incident
        }
        current.openEvents.remove(alert.eventID)
        // An event can grow more severe while it is open: its resolved alert says how severe it got.
        let worse = Self.rank(alert.severity) > Self.rank(current.incident.severity)
        if worse {
            current.worst = alert
            current.incident.severity = alert.severity
        }
        guard current.openEvents.isEmpty else {
            open[asset] = current
            guard worse else { return nil }
            var escalated = Self.stage(.escalated, of: alert, site: site, incident: current.incident.incident)
            escalated.explanation = current.explanation
            return escalated
        }
        open[asset] = nil
        var incident = Self.stage(.resolved, of: current.worst, site: site, incident: current.incident.incident)
        incident.severity = current.incident.severity
        incident.start = current.incident.start
        incident.end = alert.end
        incident.events = current.events
        incident.kinds = current.kinds == [incident.kind] ? nil : current.kinds
        incident.sensors = current.sensors == [incident.sensor] ? nil : current.sensors
        incident.explanation = current.explanation
        return incident
    }

    private static func stage(_ stage: UpstreamIncident.Stage, of alert: AlertMessage, site: String, incident: String)
        -> UpstreamIncident
    {
        let withText = stage != .resolved
        return UpstreamIncident(
            site: site, incident: incident, stage: stage, asset: alert.asset,
            severity: alert.severity, start: alert.start, sensor: alert.sensor, kind: alert.kind, unit: alert.unit,
            baseline: alert.facts.baseline, peak: alert.facts.peak,
            text: withText ? alert.narrative.text : nil, source: withText ? alert.narrative.source.rawValue : nil)
    }

    private static func incidentID(_ alert: AlertMessage) -> String {
        let start = Timestamp.parse(alert.start).map { String($0) } ?? alert.start
        return "\(alert.asset):\(start)"
    }

    private static func rank(_ severity: String) -> Int { Severity(rawValue: severity)?.rank ?? 0 }

    private static func appendBounded(_ value: String, to list: inout [String]) {
        if list.count < listLimit, !list.contains(value) { list.append(value) }
    }
}
