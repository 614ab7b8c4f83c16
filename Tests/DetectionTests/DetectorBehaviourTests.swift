import Detection
import Telemetry
import Testing

@Suite("Detectors on synthetic signals with known answers")
struct DetectorBehaviourTests {
    @Test("noise only raises no events", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func noiseOnly(seed: UInt64) {
        let result = run(gaussianSeries(count: 5000, seed: seed))
        #expect(result.events.isEmpty, "\(result.events.map { "\($0.kind) at \($0.start)" })")
    }

    @Test("a single outlier is a spike, not a level shift")
    func singleOutlier() throws {
        var values = gaussianSeries(count: 600, seed: 11)
        values[400] += 12
        let result = run(values)
        let opened = result.events.filter { $0.stage == .opened }
        #expect(opened.count == 1)
        let event = try #require(opened.first)
        #expect(event.kind == .spike)
        #expect(event.start == 1_700_000_000_000 + 400_000)
        #expect(abs(event.peak - values[400]) < 1e-9)
        #expect(result.scores[400] >= 0.5)
    }

    @Test("a dip below the baseline is a dip")
    func dip() throws {
        var values = gaussianSeries(count: 600, seed: 12)
        values[400] -= 15
        let opened = run(values).events.filter { $0.stage == .opened }
        #expect(opened.map(\.kind) == [.dip])
    }

    @Test("a step is one level-shift event starting at the step")
    func step() throws {
        var values = gaussianSeries(count: 1200, seed: 13)
        for k in 500..<1200 { values[k] += 6 }
        let result = run(values)
        let opened = result.events.filter { $0.stage == .opened }
        let event = try #require(opened.first)
        #expect(opened.count == 1, "\(opened.map { "\($0.kind) at \($0.start)" })")
        #expect(event.kind == .levelShift)
        let startIndex = (event.start - 1_700_000_000_000) / 1000
        #expect(abs(startIndex - 500) <= 3)
        #expect(event.baseline > 9 && event.baseline < 11)
        #expect((event.detectedAt - 1_700_000_000_000) / 1000 <= 510)
    }

    @Test("a slow ramp is a drift")
    func ramp() throws {
        var values = gaussianSeries(count: 3000, seed: 14)
        for k in 1000..<3000 { values[k] += Double(k - 1000) * 0.03 }
        let opened = run(values).events.filter { $0.stage == .opened }
        let event = try #require(opened.first)
        #expect(event.kind == .drift)
        let startIndex = (event.detectedAt - 1_700_000_000_000) / 1000
        #expect(startIndex > 1000 && startIndex < 1600)
    }

    @Test("a value that stops changing is stuck")
    func flatline() throws {
        var values = gaussianSeries(count: 800, seed: 15)
        for k in 500..<800 { values[k] = values[499] }
        let opened = run(values).events.filter { $0.stage == .opened }
        let event = try #require(opened.first)
        #expect(opened.count == 1)
        #expect(event.kind == .stuck)
        #expect(event.start == 1_700_000_000_000 + 499_000)
    }

    @Test("a burst of noise is a volatility shift")
    func volatility() throws {
        var values = gaussianSeries(count: 1000, seed: 16)
        var noise = Noise(seed: 99)
        for k in 500..<700 { values[k] = 10 + 4 * noise.gaussian() }
        let opened = run(values).events.filter { $0.stage == .opened }
        let event = try #require(opened.first)
        #expect([AnomalyKind.volatilityShift, .spike, .dip].contains(event.kind))
        #expect(opened.contains { $0.kind == .volatilityShift } || opened.count <= 3)
    }

    @Test("a reading beyond an engineering limit is out of range with the limit")
    func outOfRange() throws {
        var values = gaussianSeries(count: 500, seed: 17)
        values[400] = 20.5
        let result = run(values, catalog: singleSensorCatalog(limits: Limits(low: 0, high: 20)))
        let event = try #require(result.events.first { $0.stage == .opened })
        #expect(event.kind == .outOfRange)
        #expect(event.limit == 20)
        #expect(event.severity == .critical)
        #expect(result.scores[400] == 1)
    }

    @Test("a gap in the readings is silence, resolved by the next reading")
    func silence() throws {
        let detector = PlantDetector(catalog: singleSensorCatalog())
        var events: [AnomalyEvent] = []
        var noise = Noise(seed: 18)
        let t0: Int64 = 1_700_000_000_000
        for k in 0..<400 {
            _ = detector.ingest(sensor: 0, timestamp: t0 + Int64(k) * 1000, value: 10 + noise.gaussian(), events: &events)
        }
        for k in 400..<420 { detector.advance(to: t0 + Int64(k) * 1000, events: &events) }
        #expect(events.count == 1)
        let opened = try #require(events.first)
        #expect(opened.kind == .silence)
        #expect(opened.start == t0 + 399_000)
        #expect(detector.openEvents.count == 1)
        _ = detector.ingest(sensor: 0, timestamp: t0 + 420_000, value: 10, events: &events)
        #expect(events.count == 2)
        #expect(events.last?.stage == .resolved)
        #expect(events.last?.id == opened.id)
        #expect(events.last?.end == t0 + 420_000)
        #expect(detector.openEvents.isEmpty)
    }

    @Test("a detector switched off in the catalog stays silent")
    func switchedOff() {
        var values = gaussianSeries(count: 800, seed: 15)
        for k in 500..<800 { values[k] = values[499] }
        let catalog = singleSensorCatalog(detectors: ["stuck": DetectorTuning(enabled: false),
                                                      "volatility_shift": DetectorTuning(enabled: false)])
        let events = run(values, catalog: catalog).events
        #expect(!events.contains { $0.kind == .stuck })
    }

    @Test("one fault is one event, resolved once, with the same id")
    func oneFaultOneEvent() throws {
        var values = gaussianSeries(count: 1500, seed: 19)
        for k in 600..<700 { values[k] += 8 }
        // Only events that overlap the fault count: the noise may hold its own rare 4-sigma reading.
        let t0: Int64 = 1_700_000_000_000
        let events = run(values).events.filter { $0.start >= t0 + 590_000 && $0.start <= t0 + 800_000 }
        let opened = events.filter { $0.stage == .opened }
        let resolved = events.filter { $0.stage == .resolved }
        #expect(opened.count == 1, "\(events.map { "\($0.stage) \($0.kind) \($0.start)" })")
        #expect(resolved.count == 1)
        let o = try #require(opened.first), r = try #require(resolved.first)
        #expect(o.id == r.id)
        #expect(r.end != nil)
        #expect(r.duration > 90 && r.duration < 160)
        #expect(r.window.count <= 60 && !r.window.isEmpty)
        #expect(abs(r.deviation - 8) < 4)
    }
}

@Suite("Hostile input")
struct HostileInputTests {
    @Test("extreme tuning, timestamps and values neither crash nor hang")
    func extremes() {
        let tuning: [String: DetectorTuning] = [
            "level_shift": DetectorTuning(parameters: ["recent": 1e300, "reference": -1e300]),
            "volatility_shift": DetectorTuning(parameters: ["window": .infinity]),
            "seasonal": DetectorTuning(parameters: ["period": 1e300, "bins": -5]),
            "stuck": DetectorTuning(parameters: ["readings": 1e30, "tolerance": -1]),
            "spike": DetectorTuning(parameters: ["alpha": 5, "sensitivity": 1e9]),
        ]
        let catalog = singleSensorCatalog(detectors: tuning, period: 1e300)
        let detector = PlantDetector(catalog: catalog)
        var events: [AnomalyEvent] = []
        let times: [Int64] = [0, .max, .min, -1, 1, .max - 1, 5, 5, 4]
        let values: [Double] = [1, .nan, .infinity, -1e308, 1e308, 0, -0.0, 3, .leastNonzeroMagnitude]
        for round in 0..<200 {
            for (t, v) in zip(times, values) {
                let s = detector.ingest(sensor: 0, timestamp: t &+ Int64(round), value: v, events: &events)
                #expect(s >= 0 && s <= 1)
                detector.advance(to: t, events: &events)
            }
        }
        #expect(detector.ingest(sensor: 7, timestamp: 0, value: 1, events: &events) == 0)
        #expect(detector.ingest(sensor: -1, timestamp: 0, value: 1, events: &events) == 0)
        let state = detector.saveState()
        #expect(throws: Never.self) { try PlantDetector(catalog: catalog).restoreState(state) }
    }
}

@Suite("Recovery")
struct RecoveryTests {
    @Test("after overflowing values the detector learns afresh and works again")
    func recovers() {
        var values = gaussianSeries(count: 400, seed: 400)
        values += [1e308, -1e308, 1e308]
        values += gaussianSeries(count: 1000, seed: 401)
        values[1200] += 15
        let result = run(values)
        #expect(result.scores.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(result.scores[1200] >= 0.5)
    }
}
