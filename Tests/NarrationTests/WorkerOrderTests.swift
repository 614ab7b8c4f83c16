import Detection
import Dispatch
import Logging
import Narration
import Testing

/// Issue #14: an event's `resolved` must never come out before its `opened`, whatever the queue does.
@Suite struct WorkerOrderTests {
    let logger = Logger(label: "test")

    @Test func aDroppedResolvedWaitsForItsOpenedStillWithTheModel() async throws {
        let gate = DispatchSemaphore(value: 0)
        let model = ScriptedModel(gate: gate) { _ in "P-101 motor current on Pump P-101 spiked to 48.2 A." }
        let config = NarrationConfiguration(deadline: .seconds(30), queueCapacity: 16, cooldown: .zero)
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, configuration: config, logger: logger)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger)
        let running = Task { await worker.run() }
        let results = Task { await collect(worker) }
        let opened = Fixtures.event(.spike)
        var resolved = opened
        resolved.stage = .resolved
        resolved.end = opened.detectedAt + 30_000
        worker.submit(opened)
        // The opened event is with the (blocked) model; its resolved and 16 more events arrive: the
        // queue is full and drops its oldest, the resolved.
        while model.calls.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        worker.submit(resolved)
        let others = events(16, asset: { "a\($0)" })
        for e in others { worker.submit(e) }
        #expect(worker.counts.dropped == 1)
        for _ in 0..<20 { gate.signal() }
        worker.finish()
        await running.value
        let out = await results.value
        #expect(out.count == 18)
        let stages = out.filter { $0.event.id == opened.id }.map(\.event.stage)
        #expect(stages == [.opened, .resolved])
        // Everything comes out in submission order.
        #expect(out.map(\.event.id) == [opened.id, opened.id] + others.map(\.id))
    }
}
