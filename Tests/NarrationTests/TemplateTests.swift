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
