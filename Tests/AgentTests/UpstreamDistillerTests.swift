import Agent
import Foundation
import Testing

/// Alerts folded into upstream incidents: a storm on one asset is one incident.
@Suite("Upstream distiller")
struct UpstreamDistillerTests {
    static func alert(_ id: String, _ stage: String, asset: String = "pump1", sensor: String = "pump1.flow",
                      kind: String = "level_shift", severity: String = "warning", start: String = "2026-03-02T07:00:00.000Z",
                      end: String? = nil, text: String = "P-101 flow fell.") throws -> AlertMessage {
        var object: [String: Any] = [
            "schema": "vigil.alert/1", "event_id": id, "stage": stage, "agent": "a", "sensor": sensor,
            "sensor_name": sensor, "unit": "m3/h", "asset": asset, "asset_name": "Pump \(asset)", "kind": kind,
            "severity": severity, "score": 0.9, "start": start, "detected_at": start,
            "facts": ["baseline": 100.0, "peak": 80.0, "deviation": -20.0, "duration_s": 10.0, "related": [Any]()],
            "narrative": ["text": text, "source": "template", "latency_ms": 0.1, "verified": true],
        ]
        if let end { object["end"] = end }
        return try JSONDecoder().decode(AlertMessage.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test func aStormOnOneAssetIsOneIncident() throws {
        var d = UpstreamDistiller(site: "north")
        let opened = try #require(d.distill(try Self.alert("e1", "opened")))
        #expect(opened.stage == .opened)
        #expect(opened.incident == "pump1:1772434800000")
        #expect(opened.text == "P-101 flow fell.")
        #expect(opened.source == "template")
        // More events on the same asset, same severity: folded, nothing upstream.
        #expect(d.distill(try Self.alert("e2", "opened", sensor: "pump1.current", kind: "correlation_break",
                                          start: "2026-03-02T07:00:05.000Z")) == nil)
        #expect(d.distill(try Self.alert("e1", "resolved", end: "2026-03-02T07:05:00.000Z")) == nil)
        // Another asset is another incident.
        let other = try #require(d.distill(try Self.alert("f1", "opened", asset: "tank1", sensor: "tank1.level")))
        #expect(other.incident.hasPrefix("tank1:"))
        #expect(d.openIncidents == 2)
        // A more severe event escalates the open incident.
        let escalated = try #require(d.distill(try Self.alert("e3", "opened", sensor: "pump1.vibration", kind: "spike",
                                                              severity: "critical", start: "2026-03-02T07:06:00.000Z")))
        #expect(escalated.stage == .escalated)
        #expect(escalated.incident == opened.incident)
        #expect(escalated.severity == "critical")
        #expect(escalated.idempotencyKey(agent: "gw") != opened.idempotencyKey(agent: "gw"))
        #expect(d.distill(try Self.alert("e2", "resolved", sensor: "pump1.current", kind: "correlation_break",
                                          start: "2026-03-02T07:00:05.000Z", end: "2026-03-02T07:08:00.000Z")) == nil)
        // The last open event resolves the incident, which reports all it folded.
        let resolved = try #require(d.distill(try Self.alert("e3", "resolved", sensor: "pump1.vibration", kind: "spike",
                                                             severity: "critical", start: "2026-03-02T07:06:00.000Z",
                                                             end: "2026-03-02T07:09:00.000Z")))
        #expect(resolved.stage == .resolved)
        #expect(resolved.incident == opened.incident)
        #expect(resolved.start == "2026-03-02T07:00:00.000Z")
        #expect(resolved.end == "2026-03-02T07:09:00.000Z")
        #expect(resolved.events == 3)
        #expect(resolved.kinds == ["level_shift", "correlation_break", "spike"])
        #expect(resolved.sensors == ["pump1.flow", "pump1.current", "pump1.vibration"])
        #expect(resolved.severity == "critical")
        #expect(resolved.sensor == "pump1.vibration", "the resolved stage is about the most severe event")
        #expect(resolved.text == nil)
        #expect(d.openIncidents == 1)
        // The asset is quiet again: its next event opens a new incident.
        let again = try #require(d.distill(try Self.alert("e4", "opened", start: "2026-03-02T08:00:00.000Z")))
        #expect(again.stage == .opened)
        #expect(again.incident != opened.incident)
    }

    @Test func aResolveWithoutItsOpeningClosesAnIncidentOfItsOwn() throws {
        // After a restart the distiller does not know the incident an event belonged to.
        var d = UpstreamDistiller(site: "north")
        let resolved = try #require(d.distill(try Self.alert("e9", "resolved", end: "2026-03-02T07:03:00.000Z")))
        #expect(resolved.stage == .resolved)
        #expect(resolved.events == 1)
        #expect(resolved.end == "2026-03-02T07:03:00.000Z")
        #expect(d.openIncidents == 0)
    }

    @Test func listsAreBounded() throws {
        var d = UpstreamDistiller(site: "north")
        _ = d.distill(try Self.alert("e0", "opened", sensor: "s0"))
        for i in 1..<20 { _ = d.distill(try Self.alert("e\(i)", "opened", sensor: "s\(i)")) }
        var last: UpstreamIncident?
        for i in 0..<20 { last = d.distill(try Self.alert("e\(i)", "resolved", sensor: "s\(i)", end: "2026-03-02T08:00:00.000Z")) }
        let resolved = try #require(last)
        #expect(resolved.events == 20)
        #expect(resolved.sensors?.count == 8)
    }

    /// Issue #14: an event that grew critical while open resolves critical upstream too.
    @Test func theResolvedIncidentCarriesTheSeverityTheEventReached() throws {
        var d = UpstreamDistiller(site: "north")
        #expect(d.distill(try Self.alert("e1", "opened", severity: "warning"))?.severity == "warning")
        let resolved = try #require(d.distill(try Self.alert("e1", "resolved", severity: "critical", end: "2026-03-02T07:05:00.000Z")))
        #expect(resolved.stage == .resolved)
        #expect(resolved.severity == "critical")

        // With another event still open, the incident escalates first and resolves as critical later.
        var e = UpstreamDistiller(site: "north")
        _ = e.distill(try Self.alert("a", "opened", severity: "warning"))
        _ = e.distill(try Self.alert("b", "opened", sensor: "pump1.current", severity: "warning"))
        let escalated = try #require(e.distill(try Self.alert("a", "resolved", severity: "critical", end: "2026-03-02T07:05:00.000Z")))
        #expect(escalated.stage == .escalated)
        #expect(escalated.severity == "critical")
        let last = try #require(e.distill(try Self.alert("b", "resolved", sensor: "pump1.current", severity: "warning",
                                                         end: "2026-03-02T07:06:00.000Z")))
        #expect(last.stage == .resolved)
        #expect(last.severity == "critical")
    }
}
