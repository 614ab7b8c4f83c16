import Agent
import Narration
import Testing

@Suite struct NarrationDriftTests {
    func narrative(_ source: NarrativeSource, _ reason: String? = nil, ms: Double = 500) -> Narrative {
        Narrative(text: "x.", source: source, model: "m", latencyMs: ms, verified: true, reason: reason)
    }

    @Test func reasonsAreClassedAndByDesignTemplateTextIsNotCounted() {
        #expect(NarrationDrift.classify(narrative(.model)) == "")
        #expect(NarrationDrift.classify(narrative(.template, "deadline passed while queued")) == "deadline")
        #expect(NarrationDrift.classify(narrative(.template, "deadline passed before the model finished")) == "deadline")
        #expect(NarrationDrift.classify(narrative(.template, "model failed: out of memory")) == "model_failed")
        #expect(NarrationDrift.classify(narrative(.template, "no model loaded")) == "no_model")
        #expect(NarrationDrift.classify(narrative(.template, "verifier: does not end with a full stop")) == "verifier_grammar")
        #expect(NarrationDrift.classify(narrative(.template, "resolved events use the template")) == nil)
        #expect(NarrationDrift.classify(narrative(.template, "asset narrated within the cooldown")) == nil)
    }

    @Test func figuresCoverTheWindowAndWarnPastTheirFloors() {
        var settings = NarrationDriftSettings()
        settings.maxLatencyP95 = 1.5
        let drift = NarrationDrift(settings: settings)
        // 4 model texts and 6 fallbacks in the first minutes, two of them past the latency ceiling.
        for i in 0..<4 { drift.record(narrative(.model, ms: 400), now: Double(i)) }
        for i in 0..<4 { drift.record(narrative(.template, "verifier: names \"X\" which is not part of this event"), now: 10 + Double(i)) }
        for i in 0..<2 { drift.record(narrative(.template, "deadline passed while queued", ms: 1600), now: 20 + Double(i)) }
        drift.record(narrative(.template, "resolved events use the template"), now: 30)
        let f = drift.figures(now: 60)
        #expect(f.narrations == 10)
        #expect(f.modelShare == 0.4)
        #expect(f.fallbacks == ["verifier_names": 4, "deadline": 2])
        #expect(f.latencyP95Ms == 1600)
        #expect(f.warnings.map(\.figure) == ["model_share", "latency_p95"])
        #expect(f.warnings.first?.text.contains("40 % of 10 narrations over the last hour") == true)

        // An hour later the window has moved past them: nothing to judge, no warning.
        for i in 0..<10 { drift.record(narrative(.model), now: 3700 + Double(i)) }
        let later = drift.figures(now: 3720)
        #expect(later.narrations == 10)
        #expect(later.modelShare == 1)
        #expect(later.warnings.isEmpty)
    }

    @Test func tooFewNarrationsAreNotJudged() {
        let drift = NarrationDrift(settings: NarrationDriftSettings())
        for i in 0..<9 { drift.record(narrative(.template, "no model loaded"), now: Double(i)) }
        #expect(drift.figures(now: 10).warnings.isEmpty)
        drift.record(narrative(.template, "no model loaded"), now: 10)
        #expect(drift.figures(now: 11).warnings.map(\.figure) == ["model_share"])
    }

    @Test func theDriftSettingsParseAndRefuseNonsense() throws {
        let base = "agent: {name: gw1, catalog: plant.yaml}\nlocal: {url: \"mqtt://127.0.0.1:1883\"}\n"
        let c = try AgentConfiguration.parse(yaml: base + "narration: {drift: {window: 30m, min_model_share: 0.7, max_latency_p95: 2s, min_narrations: 3}}")
        #expect(c.narrationDrift.window == 1800)
        #expect(c.narrationDrift.minModelShare == 0.7)
        #expect(c.narrationDrift.maxLatencyP95 == 2)
        #expect(c.narrationDrift.minNarrations == 3)
        for bad in ["{drift: {min_model_share: 1.5}}", "{drift: {window: 1s}}", "{drift: {floor: 3}}", "{drift: {min_narrations: 0}}"] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try AgentConfiguration.parse(yaml: base + "narration: " + bad) }
        }
    }
}
