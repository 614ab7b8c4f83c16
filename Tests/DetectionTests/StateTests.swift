import Detection
import Telemetry
import Testing

@Suite("Saving and restoring detector state")
struct StateTests {
    func plant() -> Catalog {
        Catalog(
            plant: "p", site: "s", assets: [Asset(id: "pump", name: "pump", kind: "pump")],
            sensors: [
                Sensor(id: "pump.flow", name: "flow", unit: "m3/h", asset: "pump", topic: "f", samplePeriod: 1,
                       limits: Limits(low: 0, high: 100), related: ["pump.current"]),
                Sensor(id: "pump.current", name: "current", unit: "A", asset: "pump", topic: "c", samplePeriod: 1,
                       related: ["pump.flow"],
                       detectors: ["seasonal": DetectorTuning(parameters: ["period": 60])]),
            ])
    }

    /// Feeds readings k..<end of a two-sensor series with a step at 900; returns scores and events.
    func feed(_ d: PlantDetector, _ range: Range<Int>, noise: inout Noise) -> ([Double], [AnomalyEvent]) {
        var scores: [Double] = []
        var events: [AnomalyEvent] = []
        for k in range {
            let t = Int64(1_700_000_000_000) + Int64(k) * 1000
            let load = 50 + 10 * Double(k % 60) / 60
            let step = k >= 900 && k < 1300 ? 8.0 : 0
            d.advance(to: t, events: &events)
            scores.append(d.ingest(sensor: 0, timestamp: t, value: load + step + noise.gaussian(), events: &events))
            scores.append(d.ingest(sensor: 1, timestamp: t, value: 0.4 * load + 0.3 * noise.gaussian(), events: &events))
        }
        return (scores, events)
    }

    @Test("a restored detector continues exactly as the original")
    func roundTrip() throws {
        let original = PlantDetector(catalog: plant())
        var noise = Noise(seed: 7)
        _ = feed(original, 0..<905, noise: &noise)
        #expect(!original.openEvents.isEmpty, "the step should have an event open at the save")
        let saved = original.saveState()

        let restored = PlantDetector(catalog: plant())
        try restored.restoreState(saved)
        #expect(restored.saveState() == saved)
        #expect(restored.openEvents == original.openEvents)

        var noiseA = noise, noiseB = noise
        let a = feed(original, 905..<2000, noise: &noiseA)
        let b = feed(restored, 905..<2000, noise: &noiseB)
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(!a.1.isEmpty)
    }

    @Test("an event's window buffers exist only while it is open, and a save leaves them as they were")
    func eventBuffersOnlyWhileOpen() throws {
        let d = PlantDetector(catalog: plant())
        let idle = d.stateBytesPerSensor
        var noise = Noise(seed: 9)
        _ = feed(d, 0..<905, noise: &noise)
        #expect(!d.openEvents.isEmpty, "the step should have an event open")
        let open = d.stateBytesPerSensor
        #expect(open > idle, "an open event records its readings")
        let saved = d.saveState()
        #expect(d.stateBytesPerSensor == open)
        let restored = PlantDetector(catalog: plant())
        try restored.restoreState(saved)
        #expect(restored.stateBytesPerSensor == open)
        let (_, events) = feed(d, 905..<2000, noise: &noise)
        #expect(events.contains { $0.stage == .resolved })
        #expect(d.openEvents.isEmpty)
        #expect(d.stateBytesPerSensor == idle, "a resolved event gives its buffers back")
    }

    @Test("a state of another catalog is refused")
    func otherCatalog() {
        let d = PlantDetector(catalog: plant())
        var noise = Noise(seed: 8)
        _ = feed(d, 0..<300, noise: &noise)
        let saved = d.saveState()
        let other = PlantDetector(catalog: singleSensorCatalog())
        #expect(throws: DetectionError.self) { try other.restoreState(saved) }
        var tuned = plant()
        tuned.sensors[0].detectors["spike"] = DetectorTuning(enabled: false)
        let retuned = PlantDetector(catalog: Catalog(plant: "p", site: "s", assets: tuned.assets, sensors: tuned.sensors))
        #expect(throws: DetectionError.self) { try retuned.restoreState(saved) }
    }

    @Test("corrupt states give an error and leave the detector as it was")
    func corrupt() throws {
        let d = PlantDetector(catalog: plant())
        var noise = Noise(seed: 9)
        _ = feed(d, 0..<300, noise: &noise)
        let saved = d.saveState()
        let target = PlantDetector(catalog: plant())
        let before = target.saveState()
        var rng = Noise(seed: 10)
        var cases: [[UInt8]] = [[], Array(saved.prefix(3)), Array(saved.prefix(saved.count / 2)), saved + [0]]
        for _ in 0..<200 {
            var bad = saved
            let i = Int(rng.next() % UInt64(bad.count))
            bad[i] ^= UInt8(1 << (rng.next() % 8))
            cases.append(bad)
        }
        var version = saved
        version[4] = 99
        cases.append(version)
        for bad in cases {
            #expect(throws: DetectionError.self) { try target.restoreState(bad) }
        }
        #expect(target.saveState() == before)
    }
}
