import Detection
import Dispatch
import Foundation
import Logging
import Narration
import Synchronization
import Telemetry
import Testing

/// A stand-in for the engine (the worker and narrator are under test here, not the model): writes the
/// text a function gives for the prompt, after a delay, and honours the deadline like the engine does.
final class ScriptedModel: NarrationModel, Sendable {
    let name = "scripted"
    let delay: Duration
    let write: @Sendable (String) -> String
    let gate: DispatchSemaphore?
    let calls = Mutex(0)
    /// Shared prefixes the narrator asked to prepare, and how many `complete` calls came before each.
    let prepared = Mutex<[(prefix: String, callsBefore: Int)]>([])

    init(delay: Duration = .zero, gate: DispatchSemaphore? = nil, write: @escaping @Sendable (String) -> String) {
        self.delay = delay
        self.gate = gate
        self.write = write
    }

    func prepare(prefix: String) throws {
        let before = calls.withLock { $0 }
        prepared.withLock { $0.append((prefix, before)) }
    }

    func complete(_ request: CompletionRequest) throws -> Completion {
        calls.withLock { $0 += 1 }
        gate?.wait()
        let end = ContinuousClock.now.advanced(by: delay)
        if let deadline = request.deadline, deadline < end {
            Thread.sleep(forTimeInterval: max(0, Double(ContinuousClock.now.duration(to: deadline).components.attoseconds) / 1e18))
            return Completion(text: "", stop: .deadline, tokens: 0)
        }
        Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        // Continue the alert start Vigil wrote at the end of the prompt.
        var text = write(request.suffix)
        if let range = request.suffix.range(of: "Alert: ", options: .backwards),
           text.hasPrefix(request.suffix[range.upperBound...]) {
            text.removeFirst(request.suffix[range.upperBound...].count)
        } else {
            text = " " + text
        }
        return Completion(text: text, stop: .stopString, tokens: 10)
    }
}

/// The template text for the facts in a prompt suffix — a faithful text, as a good model would write.
func faithful(_ event: AnomalyEvent) -> String { TemplateNarrator.narrate(event, catalog: Fixtures.catalog) }

func collect(_ worker: NarrationWorker) async -> [NarratedEvent] {
    var out: [NarratedEvent] = []
    for await r in worker.results { out.append(r) }
    return out
}

func events(_ n: Int, asset: (Int) -> String = { _ in "pump1" }, spacingMs: Int64 = 600_000) -> [AnomalyEvent] {
    (0..<n).map { i in
        var e = Fixtures.event(AnomalyKind.allCases[i % AnomalyKind.allCases.count])
        e.id = "ev-\(i)"
        e.asset = asset(i)
        e.detectedAt = Fixtures.t0 + Int64(i) * spacingMs
        return e
    }
}

@Suite struct NarratorTests {
    let logger = Logger(label: "test")

    @Test func withoutAModelTheTemplateSaysWhy() async {
        let narrator = Narrator(catalog: Fixtures.catalog, model: nil, logger: logger)
        let n = await narrator.narrate(Fixtures.event(.spike), deadline: nil)
        #expect(n.source == .template)
        #expect(n.reason == "no model loaded")
        #expect(n.verified)
        #expect(n.text == TemplateNarrator.narrate(Fixtures.event(.spike), catalog: Fixtures.catalog))
    }

    @Test func acceptedModelTextIsUsed() async {
        let text = "P-101 motor current on Pump P-101 jumped to 48.2 A, 18.1 A above normal."
        let narrator = Narrator(catalog: Fixtures.catalog, model: ScriptedModel { _ in text }, logger: logger)
        let n = await narrator.narrate(Fixtures.event(.spike), deadline: nil)
        #expect(n.source == .model)
        #expect(n.text == text)
        #expect(n.model == "scripted")
        #expect(n.reason == nil)
    }

    @Test func rejectedModelTextBecomesTheTemplateWithTheReason() async {
        let model = ScriptedModel { _ in "P-101 motor current on Pump P-101 jumped to 99.9 A. Shut it down." }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, logger: logger)
        let n = await narrator.narrate(Fixtures.event(.spike), deadline: nil)
        #expect(n.source == .template)
        #expect(n.model == "scripted")
        #expect(n.reason?.hasPrefix("verifier: number 99.9 A") == true, "\(n.reason ?? "")")
        #expect(!n.text.contains("99.9"))
    }

    @Test func aCutOffTextKeepsItsLastCompleteClause() async {
        let model = ScriptedModel { _ in
            "P-101 motor current on Pump P-101 spiked to 48.2 A, 18.1 A above its baseline of 30.1 A, 18.1"
        }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, logger: logger)
        let n = await narrator.narrate(Fixtures.event(.spike), deadline: nil)
        #expect(n.source == .model, "\(n.reason ?? "")")
        #expect(n.text == "P-101 motor current on Pump P-101 spiked to 48.2 A, 18.1 A above its baseline of 30.1 A.")
    }

    @Test func aTextCutOffMidClauseNeverReachesTheOperator() async {
        let cut = "P-101 motor current on Pump P-101 spiked to 48.2 A and P-101 flow dropped by"
        let model = ScriptedModel { _ in cut }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, logger: logger)
        let n = await narrator.narrate(Fixtures.event(.spike), deadline: nil)
        #expect(n.source == .template)
        #expect(n.reason?.hasPrefix("verifier:") == true, "\(n.reason ?? "")")
        // Closing it with a full stop does not make it acceptable either.
        let closed = Verifier(facts: Facts(event: Fixtures.event(.spike), catalog: Fixtures.catalog), catalog: Fixtures.catalog)
            .verify(cut + ".")
        #expect(closed.problems.contains { $0.contains("unfinished") }, "\(closed.problems)")
        #expect(n.text == TemplateNarrator.narrate(Fixtures.event(.spike), catalog: Fixtures.catalog))
    }

    @Test func lateModelMeansTemplateWithReason() async {
        let model = ScriptedModel(delay: .seconds(5)) { _ in "late" }
        let config = NarrationConfiguration(deadline: .milliseconds(100))
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
        let n = await narrator.narrate(Fixtures.event(.spike))
        #expect(n.source == .template)
        #expect(n.reason?.contains("deadline") == true)
    }
}

@Suite struct WorkerTests {
    let logger = Logger(label: "test")

    @Test func queueIsBoundedDropsOldestAndCountsIt() async throws {
        let gate = DispatchSemaphore(value: 0)
        let model = ScriptedModel(gate: gate) { _ in "P-101 motor current on Pump P-101 spiked to 48.2 A." }
        let config = NarrationConfiguration(deadline: .seconds(30), queueCapacity: 3, cooldown: .zero)
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger)
        let input = events(10)
        let running = Task { await worker.run() }
        let results = Task { await collect(worker) }
        worker.submit(input[0])
        // Wait until the first event is with the (blocked) model, then flood the queue.
        while model.calls.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        for e in input.dropFirst() { worker.submit(e) }
        #expect(worker.queueDepth == 3)
        #expect(worker.counts.dropped == 6)
        for _ in 0..<10 { gate.signal() }
        worker.finish()
        await running.value
        let out = await results.value
        #expect(out.count == 10)   // every alert still comes out
        let dropped = out.filter { $0.narrative.reason == "narration queue full (oldest dropped)" }
        #expect(dropped.map(\.event.id) == (1...6).map { "ev-\($0)" })   // the oldest waiting ones
        #expect(model.calls.withLock { $0 } == 4)   // ev-0 and the three that were kept
        #expect(worker.counts.submitted == 10 && worker.counts.delivered == 10)
    }

    @Test func theSharedPrefixIsPreparedWhenTheWorkerStartsBeforeTheFirstAlert() async {
        let model = ScriptedModel { _ in "P-101 motor current on Pump P-101 spiked to 48.2 A." }
        // A deadline no busy test machine misses: this test is about when the prefix is prepared.
        let config = NarrationConfiguration(deadline: .seconds(30))
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger)
        let running = Task { await worker.run() }
        worker.submit(Fixtures.event(.spike))
        worker.finish()
        let out = await collect(worker)
        await running.value
        #expect(out.first?.narrative.source == .model)
        let prepared = model.prepared.withLock { $0 }
        #expect(prepared.count == 1)
        #expect(prepared.first?.callsBefore == 0)
        let prompt = PromptBuilder.build(Facts(event: Fixtures.event(.spike), catalog: Fixtures.catalog), style: .fewShot)
        #expect(prepared.first?.prefix == prompt.prefix)
    }

    @Test func deadlineGivesTheTemplateWithAReason() async {
        let model = ScriptedModel(delay: .seconds(3)) { _ in "P-101 motor current on Pump P-101 spiked to 48.2 A." }
        let config = NarrationConfiguration(deadline: .milliseconds(150), cooldown: .zero)
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger)
        let running = Task { await worker.run() }
        worker.submit(Fixtures.event(.spike))
        worker.finish()
        let out = await collect(worker)
        await running.value
        #expect(out.count == 1)
        #expect(out.first?.narrative.source == .template)
        #expect(out.first?.narrative.reason?.contains("deadline") == true)
        #expect(worker.counts.deadlineMissed == 1)
    }

    @Test func stormOnOneAssetIsOneModelNarrationPerCooldown() async {
        let model = ScriptedModel { suffix in
            suffix.contains("spike") ? "P-101 motor current on Pump P-101 spiked to 48.2 A." : "nonsense"
        }
        let config = NarrationConfiguration(cooldown: .seconds(60))
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .deterministic, logger: logger)
        let running = Task { await worker.run() }
        // Five events 10 s apart on pump1, then one 2 min later.
        for e in events(5, spacingMs: 10_000) { worker.submit(e) }
        var late = events(1)[0]
        late.id = "late"
        late.detectedAt = Fixtures.t0 + 120_000
        worker.submit(late)
        worker.finish()
        let out = await collect(worker)
        await running.value
        #expect(model.calls.withLock { $0 } == 2)
        #expect(worker.counts.coolingDown == 4)
        #expect(out.filter { $0.narrative.reason == "asset narrated within the cooldown" }.count == 4)
    }

    @Test func deterministicModeNarratesEverythingInOrderReproducibly() async {
        func runOnce() async -> [NarratedEvent] {
            // Slow model, tiny queue, tiny deadline: live mode would drop and miss; deterministic must not.
            let model = ScriptedModel(delay: .milliseconds(20)) { suffix in
                suffix.contains("| event: spike") ? "P-101 motor current on Pump P-101 spiked to 48.2 A." : "Bad 1."
            }
            let config = NarrationConfiguration(deadline: .milliseconds(1), queueCapacity: 1, cooldown: .zero)
            let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
            let worker = NarrationWorker(narrator: narrator, mode: .deterministic, logger: logger)
            let running = Task { await worker.run() }
            for e in events(12) { worker.submit(e) }
            worker.finish()
            let out = await collect(worker)
            await running.value
            #expect(worker.counts.dropped == 0)
            #expect(worker.counts.deadlineMissed == 0)
            return out
        }
        let a = await runOnce(), b = await runOnce()
        #expect(a.map(\.event.id) == (0..<12).map { "ev-\($0)" })
        #expect(a.map(\.narrative.text) == b.map(\.narrative.text))
        #expect(a.map(\.narrative.source) == b.map(\.narrative.source))
        #expect(a.filter { $0.narrative.source == .model }.count == 2)   // the two spikes
    }

    @Test func cancellationStillDeliversQueuedEventsWithTheTemplate() async {
        let gate = DispatchSemaphore(value: 0)
        let model = ScriptedModel(gate: gate) { _ in "x" }
        let narrator = Narrator(catalog: Fixtures.catalog, model: model,
                                configuration: NarrationConfiguration(deadline: .milliseconds(200)), logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger)
        let running = Task { await worker.run() }
        for e in events(3, asset: { "a\($0)" }) { worker.submit(e) }
        running.cancel()
        gate.signal(); gate.signal(); gate.signal()
        await running.value
        let out = await collect(worker)
        #expect(out.count == 3)
    }
}
