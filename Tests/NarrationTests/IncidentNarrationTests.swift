import Detection
import Foundation
import Logging
import Narration
import Telemetry
import Testing

/// The first-out event of an incident on pump 1 and the events that followed it (other sensors).
private enum IncidentFixture {
    static func firstOut() -> AnomalyEvent {
        var e = Fixtures.event(.levelShift, sensor: "pump1.current", peak: 41.3)
        e.id = "ev-first"
        return e
    }

    static func follower(_ sensor: SensorID, id: String, afterMs: Int64, kind: AnomalyKind = .dip,
                         baseline: Double = 120.04, peak: Double = 96.5) -> AnomalyEvent {
        var e = Fixtures.event(kind, sensor: sensor, baseline: baseline, peak: peak, related: [])
        e.id = id
        e.start = Fixtures.t0 + afterMs
        e.detectedAt = e.start + 2000
        return e
    }

    static func resolved(_ e: AnomalyEvent) -> AnomalyEvent {
        var r = e
        r.stage = .resolved
        r.end = e.start + 60_000
        return r
    }
}

@Suite struct IncidentTrackerTests {
    @Test func anEventOfAnotherSensorOfTheAssetFollowsTheFirstOut() {
        var tracker = IncidentTracker(window: .seconds(600))
        let first = IncidentFixture.firstOut()
        let second = IncidentFixture.follower("pump1.flow", id: "ev-2", afterMs: 30_000)
        #expect(tracker.record(first) == nil)
        let incident = tracker.record(second)
        #expect(incident?.map(\.id) == ["ev-first", "ev-2"])
        // The same sensor again adds nothing to explain; nor does an event of another asset.
        #expect(tracker.record(IncidentFixture.follower("pump1.flow", id: "ev-3", afterMs: 40_000)) == nil)
        var other = IncidentFixture.follower("pump2.flow", id: "ev-4", afterMs: 45_000)
        other.asset = "pump2"
        #expect(tracker.record(other) == nil)
        #expect(tracker.openIncidents == 2)
    }

    @Test func aLateEventOrOneAfterTheIncidentResolvedStartsAnIncidentOfItsOwn() {
        var tracker = IncidentTracker(window: .seconds(600))
        let first = IncidentFixture.firstOut()
        #expect(tracker.record(first) == nil)
        // Past the window: not a follower, and it becomes the first-out of a new incident.
        let late = IncidentFixture.follower("pump1.flow", id: "ev-late", afterMs: 601_000)
        #expect(tracker.record(late) == nil)
        let next = IncidentFixture.follower("pump1.discharge_pressure", id: "ev-next", afterMs: 602_000, kind: .spike,
                                            baseline: 4.2, peak: 5.1)
        #expect(tracker.record(next)?.map(\.id) == ["ev-late", "ev-next"])
        // Everything resolved: the incident is over; the next event is a first-out again.
        _ = tracker.record(IncidentFixture.resolved(late))
        _ = tracker.record(IncidentFixture.resolved(next))
        #expect(tracker.openIncidents == 0)
        let again = IncidentFixture.follower("pump1.flow", id: "ev-again", afterMs: 603_000)
        #expect(tracker.record(again) == nil)
        #expect(tracker.openIncidents == 1)
    }

    @Test func anIncidentKeepsAtMostTheFirstOutAndItsFirstFollowers() {
        var tracker = IncidentTracker(window: .seconds(600))
        #expect(tracker.record(IncidentFixture.firstOut()) == nil)
        let sensors: [SensorID] = ["pump1.flow", "pump1.discharge_pressure", "pump1.suction_pressure", "pump1.vibration",
                                   "pump1.bearing_temp"]
        var sizes: [Int] = []
        for (i, s) in sensors.enumerated() {
            if let group = tracker.record(IncidentFixture.follower(s, id: "f\(i)", afterMs: Int64(i + 1) * 1000)) {
                sizes.append(group.count)
            }
        }
        #expect(sizes == Array(2...(1 + Incident.maxFollowers)))
    }
}

@Suite struct IncidentWorkerTests {
    let logger = Logger(label: "test")

    /// The incident's facts, as the narrator builds them.
    func facts(_ events: [AnomalyEvent]) throws -> Facts {
        try #require(Incident.facts(events, catalog: Fixtures.catalog))
    }

    func run(_ worker: NarrationWorker, _ events: [AnomalyEvent]) async -> [NarratedEvent] {
        let runner = Task { await worker.run() }
        for e in events { worker.submit(e) }
        worker.finish()
        let out = await collect(worker)
        await runner.value
        return out
    }

    @Test func aFollowersAlertCarriesOneVerifiedTextThatExplainsTheIncident() async throws {
        let first = IncidentFixture.firstOut()
        let follower = IncidentFixture.follower("pump1.flow", id: "ev-2", afterMs: 30_000)
        let incidentFacts = try facts([first, follower])
        let incidentText = TemplateNarrator.narrate(incidentFacts)
        let model = ScriptedModel { _ in incidentText }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model,
                                configuration: NarrationConfiguration(deadline: .seconds(30)), logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger)
        let out = await run(worker, [first, follower])
        try #require(out.count == 2)
        #expect(out[0].incident == nil)
        let incident = try #require(out[1].incident)
        #expect(incident.eventIDs == ["ev-first", "ev-2"])
        #expect(incident.id == "pump1:\(first.start)")
        #expect(incident.narrative.source == .model)
        #expect(incident.narrative.verified)
        #expect(Verifier(facts: incidentFacts, catalog: Fixtures.catalog).verify(incident.narrative.text).accepted)
        // It names what went first and what followed.
        let flow = try #require(Fixtures.catalog.sensor("pump1.flow")).name
        let current = try #require(Fixtures.catalog.sensor("pump1.current")).name
        #expect(incident.narrative.text.contains(flow) && incident.narrative.text.contains(current))
        // The follower's own text is the template: the model's time went to the incident.
        #expect(out[1].narrative.source == .template)
        #expect(out[1].narrative.reason == "the model explained the incident instead")
        #expect(worker.counts.incidents == 1 && worker.counts.incidentsByModel == 1)
    }

    @Test func aWrongIncidentTextNeverReachesTheAlert() async throws {
        let first = IncidentFixture.firstOut()
        let follower = IncidentFixture.follower("pump1.flow", id: "ev-2", afterMs: 30_000)
        let incidentFacts = try facts([first, follower])
        // The flow "rose" by a number that is no fact: the verifier must refuse it.
        let model = ScriptedModel { _ in
            "P-101 flow on Pump P-101 rose by 77.7 m3/h after P-101 motor current shifted."
        }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model,
                                configuration: NarrationConfiguration(deadline: .seconds(30)), logger: logger)
        let out = await run(NarrationWorker(narrator: narrator, mode: .live, logger: logger), [first, follower])
        let incident = try #require(out.last?.incident)
        #expect(incident.narrative.source == .template)
        #expect(incident.narrative.reason?.hasPrefix("verifier") == true)
        #expect(incident.narrative.text == TemplateNarrator.narrate(incidentFacts))
        #expect(!incident.narrative.text.contains("77.7"))
    }

    @Test func withoutAModelAndWithinTheCooldownTheIncidentTemplateExplains() async throws {
        let first = IncidentFixture.firstOut()
        let second = IncidentFixture.follower("pump1.flow", id: "ev-2", afterMs: 30_000)
        let third = IncidentFixture.follower("pump1.discharge_pressure", id: "ev-3", afterMs: 40_000, kind: .spike,
                                             baseline: 4.2, peak: 5.1)
        let none = Narrator(catalog: Fixtures.catalog, model: nil, logger: logger)
        let plain = await run(NarrationWorker(narrator: none, mode: .live, logger: logger), [first, second])
        #expect(plain.last?.incident?.narrative.source == .template)
        #expect(plain.last?.incident?.narrative.reason == "no model loaded")
        #expect(plain.last?.incident?.narrative.text == TemplateNarrator.narrate(try facts([first, second])))

        let text = TemplateNarrator.narrate(try facts([first, second]))
        let model = ScriptedModel { _ in text }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model,
                                configuration: NarrationConfiguration(deadline: .seconds(30), cooldown: .seconds(60)),
                                logger: logger)
        let out = await run(NarrationWorker(narrator: narrator, mode: .deterministic, logger: logger), [first, second, third])
        try #require(out.count == 3)
        #expect(out[1].incident?.narrative.source == .model)
        // 10 s later, the grown incident gets the template (one model narration per asset per cooldown).
        let grown = try #require(out[2].incident)
        #expect(grown.eventIDs == ["ev-first", "ev-2", "ev-3"])
        #expect(grown.narrative.source == .template)
        #expect(grown.narrative.reason == "incident narrated within the cooldown")
        #expect(grown.narrative.text == TemplateNarrator.narrate(try facts([first, second, third])))
    }
}
