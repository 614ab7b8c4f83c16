import Detection
import Narration
import Telemetry
import Testing

@Suite struct TemplateTests {
    @Test(arguments: AnomalyKind.allCases)
    func everyKindIsGoodVerifiedText(kind: AnomalyKind) throws {
        for stage in [EventStage.opened, .resolved] {
            let event = Fixtures.typical(kind, stage: stage)
            let facts = Facts(event: event, catalog: Fixtures.catalog)
            let text = TemplateNarrator.narrate(event, catalog: Fixtures.catalog)
            let verdict = Verifier(facts: facts, catalog: Fixtures.catalog).verify(text)
            #expect(verdict.accepted, "\(kind) \(stage): \(text) → \(verdict.problems)")
            #expect(verdict.namesSensor)
            #expect(text.hasPrefix("P-101 motor current on Pump P-101 "))
            #expect(text.hasSuffix("."))
            let sentences = text.split(separator: ". ").count
            #expect(sentences >= 1 && sentences <= 2, "\(text)")
            if kind != .silence { #expect(text.contains(facts.peak.withUnit), "\(text)") }
        }
    }

    @Test func spikeTextIsExact() {
        let text = TemplateNarrator.narrate(Fixtures.event(.spike), catalog: Fixtures.catalog)
        #expect(text == "P-101 motor current on Pump P-101 spiked to 48.2 A at 03:12:05 UTC, 18.1 A above its "
            + "baseline of 30.1 A. At the same time, P-101 flow fell by 12.0 m3/h and P-101 discharge pressure "
            + "rose by 0.43 bar.")
    }

    @Test func listedCausesAreMentioned() {
        let text = TemplateNarrator.narrate(Fixtures.typical(.drift), catalog: Fixtures.catalog)
        #expect(text.contains("bearing wear or lubrication loss"))
    }

    @Test func isDeterministic() {
        for kind in AnomalyKind.allCases {
            let e = Fixtures.typical(kind)
            #expect(TemplateNarrator.narrate(e, catalog: Fixtures.catalog)
                == TemplateNarrator.narrate(e, catalog: Fixtures.catalog))
        }
    }
}

@Suite struct EvaluationSetTests {
    static let path = Fixtures.repoRoot.appendingPathComponent("sensors/narration/events.jsonl").path

    @Test func theSetIsVariedAndEveryTemplatePassesTheVerifier() throws {
        let events = try EventFile.read(file: Self.path)
        #expect(events.count >= 200)
        #expect(Set(events.map(\.kind)) == Set(AnomalyKind.allCases))
        #expect(Set(events.map(\.asset)).count >= 4)
        for e in events {
            let facts = Facts(event: e, catalog: Fixtures.catalog)
            let text = TemplateNarrator.narrate(facts)
            let verdict = Verifier(facts: facts, catalog: Fixtures.catalog).verify(text)
            #expect(verdict.accepted, "\(e.id): \(text) → \(verdict.problems)")
            #expect(verdict.rightDirection, "\(e.id): \(text)")
        }
    }

    @Test func alertLinesAndEventsBothDecode() throws {
        let alert = """
            {"event_id":"e1","stage":"opened","sensor":"pump1.flow","asset":"pump1","kind":"dip","severity":"warning",\
            "score":0.8,"start":"2026-03-01T03:12:05.000Z","detected_at":"2026-03-01T03:12:07.000Z",\
            "facts":{"baseline":120,"peak":95.5,"deviation":-24.5,"duration_s":2,"related":[]},"narrative":{}}
            """
        let e = try EventFile.decode(alert)
        #expect(e.kind == .dip && e.start == Fixtures.t0 && e.peak == 95.5)
        #expect(try EventFile.decode(EventFile.encode(e)) == e)
        #expect(throws: NarrationError.self) { try EventFile.decode("{\"event_id\": 3}") }
        #expect(throws: NarrationError.self) { try EventFile.decode("not json") }
    }
}
