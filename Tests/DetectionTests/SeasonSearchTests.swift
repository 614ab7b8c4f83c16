import Detection
import Foundation
import Telemetry
import Testing

@Suite("Seasons found in the data when none is configured")
struct SeasonSearchTests {
    /// A sine of `period` readings (1 s apart) with Gaussian noise.
    func sine(count: Int, period: Double, amplitude: Double = 3, noise sd: Double = 0.5, seed: UInt64) -> [Double] {
        var noise = Noise(seed: seed)
        return (0..<count).map { k in 20 + amplitude * sin(2 * Double.pi * Double(k) / period) + sd * noise.gaussian() }
    }

    @Test("a sine of period P is found with period P", arguments: [12.0, 37.5, 150, 600])
    func sineFound(period: Double) throws {
        let values = sine(count: Int(12 * period) + 1000, period: period, seed: UInt64(period * 10))
        let detector = run(values).detector
        let found = try #require(detector.seasonSeconds(sensor: 0))
        #expect(detector.isSeasonDetected(sensor: 0))
        #expect(abs(found / period - 1) < 0.05, "found \(found) s for a period of \(period) s")
    }

    @Test("a gap in the readings does not stretch the season found", arguments: [150, 250, 350, 450])
    func gap(at gapIndex: Int) throws {
        let period = 40.0
        var noise = Noise(seed: UInt64(gapIndex))
        let detector = PlantDetector(catalog: singleSensorCatalog())
        var events: [AnomalyEvent] = []
        var t: Int64 = 1_700_000_000_000
        for k in 0..<3000 {
            // An hour without readings (a whole number of seasons, so the wave goes on in phase).
            t += k == gapIndex ? 3_601_000 : 1000
            let seconds = Double(t / 1000)
            let x = 20 + 3 * sin(2 * Double.pi * seconds / period) + 0.3 * noise.gaussian()
            _ = detector.ingest(sensor: 0, timestamp: t, value: x, events: &events)
        }
        let found = try #require(detector.seasonSeconds(sensor: 0))
        #expect(abs(found / period - 1) < 0.05, "found \(found) s")
    }

    @Test("noise, a random walk and an AR(1) series have no season", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func noSeason(seed: UInt64) {
        var noise = Noise(seed: seed &* 7919)
        var walk = 0.0, ar = 0.0
        var walkValues: [Double] = [], arValues: [Double] = []
        for _ in 0..<12000 {
            walk += noise.gaussian()
            ar = 0.9 * ar + noise.gaussian()
            walkValues.append(walk)
            arValues.append(ar)
        }
        for (name, values) in [("white", gaussianSeries(count: 12000, seed: seed)), ("walk", walkValues), ("ar", arValues)] {
            let detector = run(values).detector
            #expect(detector.seasonSeconds(sensor: 0) == nil, "\(name): \(detector.seasonSeconds(sensor: 0) ?? 0) s")
        }
    }

    @Test("a configured period is used as is")
    func configured() {
        let catalog = singleSensorCatalog(detectors: ["seasonal": DetectorTuning(parameters: ["period": 60])])
        let detector = run(sine(count: 2000, period: 40, seed: 3), catalog: catalog).detector
        #expect(detector.seasonSeconds(sensor: 0) == 60)
        #expect(!detector.isSeasonDetected(sensor: 0))
    }

    @Test("a heavy-tailed series with a weak season of 288 readings raises no seasonal alarm once its season is found", arguments: [41, 42, 43] as [UInt64])
    func heavyTailedDaily(seed: UInt64) {
        var noise = Noise(seed: seed)
        // Server load: a weak daily wave under exponential bursts.
        let values = (0..<4032).map { k in
            20 + 5 * sin(2 * Double.pi * Double(k) / 288) - 3 * Foundation.log(max(noise.uniform(), 1e-12))
        }
        let result = run(values)
        let found = result.detector.seasonSeconds(sensor: 0) ?? 0
        #expect(abs(found / 288 - 1) < 0.05, "found \(found) s")
        // Its residuals are as heavy-tailed as the series: the found season adds no alarm of its own.
        let opened = result.events.filter { $0.stage == .opened }
        let without = run(values, catalog: singleSensorCatalog(detectors: ["seasonal": DetectorTuning(parameters: ["detect": 0])]))
        #expect(!opened.contains { $0.kind == .seasonal }, "\(opened.map { "\($0.kind) \($0.score)" })")
        #expect(opened.count <= without.events.filter { $0.stage == .opened }.count)
    }

    /// A sine whose phase flips (at a zero crossing, so no jump) for three periods: level, spread and steps stay
    /// as usual, only the shape against the season is wrong.
    func flipped(seed: UInt64) -> (values: [Double], start: Int, end: Int) {
        let period = 40.0
        var noise = Noise(seed: seed)
        let start = 4000, end = 4120
        let values = (0..<5000).map { k -> Double in
            let wave = 3 * sin(2 * Double.pi * Double(k) / period)
            return 20 + (k >= start && k < end ? -wave : wave) + 0.2 * noise.gaussian()
        }
        return (values, start, end)
    }

    @Test("a phase flip only the seasonal residual can see is flagged once the season is found", arguments: [21, 22, 23] as [UInt64])
    func phaseFlip(seed: UInt64) throws {
        let (values, start, end) = flipped(seed: seed)
        let t0: Int64 = 1_700_000_000_000
        func during(_ events: [AnomalyEvent]) -> [AnomalyEvent] {
            events.filter { $0.stage == .opened && $0.detectedAt >= t0 + Int64(start) * 1000
                && $0.detectedAt <= t0 + Int64(end + 20) * 1000 }
        }
        let found = run(values)
        #expect(found.detector.isSeasonDetected(sensor: 0))
        let flagged = during(found.events)
        #expect(flagged.contains { $0.kind == .seasonal }, "\(flagged.map { "\($0.kind)" })")
        #expect(found.scores[start..<end].max() ?? 0 >= 0.5)

        // The same series without the seasonal detector: nothing else sees the flip.
        let off = run(values, catalog: singleSensorCatalog(detectors: ["seasonal": DetectorTuning(parameters: ["detect": 0])]))
        #expect(off.detector.seasonSeconds(sensor: 0) == nil)
        #expect(during(off.events).isEmpty, "\(during(off.events).map { "\($0.kind)" })")
        // And no false events before the flip with the season found.
        #expect(found.events.filter { $0.stage == .opened && $0.detectedAt < t0 + Int64(start) * 1000 }.isEmpty)
    }
}

@Suite("Found seasons in saved state")
struct SeasonStateTests {
    @Test("a found season and a search in progress survive a save and restore")
    func roundTrip() throws {
        var noise = Noise(seed: 31)
        let values = (0..<3000).map { k in 20 + 3 * sin(2 * Double.pi * Double(k) / 30) + 0.3 * noise.gaussian() }
        let catalog = singleSensorCatalog()
        for cut in [100, 1500] {
            let original = PlantDetector(catalog: catalog)
            var events: [AnomalyEvent] = []
            let t0: Int64 = 1_700_000_000_000
            for k in 0..<cut { _ = original.ingest(sensor: 0, timestamp: t0 + Int64(k) * 1000, value: values[k], events: &events) }
            let restored = PlantDetector(catalog: catalog)
            try restored.restoreState(original.saveState())
            #expect(restored.seasonSeconds(sensor: 0) == original.seasonSeconds(sensor: 0))
            for k in cut..<values.count {
                let t = t0 + Int64(k) * 1000
                let a = original.ingest(sensor: 0, timestamp: t, value: values[k], events: &events)
                let b = restored.ingest(sensor: 0, timestamp: t, value: values[k], events: &events)
                #expect(a == b)
                if a != b { break }
            }
            #expect(original.isSeasonDetected(sensor: 0) && restored.isSeasonDetected(sensor: 0))
        }
    }

    @Test("restoring a state without a season forgets the season found since")
    func forgets() throws {
        var noise = Noise(seed: 32)
        let catalog = singleSensorCatalog()
        let fresh = PlantDetector(catalog: catalog).saveState()
        let values = (0..<2000).map { k in 20 + 3 * sin(2 * Double.pi * Double(k) / 30) + 0.3 * noise.gaussian() }
        let d = run(values).detector
        #expect(d.seasonSeconds(sensor: 0) != nil)
        try d.restoreState(fresh)
        #expect(d.seasonSeconds(sensor: 0) == nil)
        #expect(d.saveState() == fresh)
    }

    @Test("a version 1 state is refused with an error that says why")
    func versionOne() {
        var saved = PlantDetector(catalog: singleSensorCatalog()).saveState()
        saved[4] = 1
        // Re-seal the checksum so that only the version is wrong.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in saved[0..<(saved.count - 8)] { hash ^= UInt64(byte); hash = hash &* 0x0000_0100_0000_01B3 }
        for k in 0..<8 { saved[saved.count - 8 + k] = UInt8((hash >> (8 * UInt64(k))) & 0xFF) }
        do {
            try PlantDetector(catalog: singleSensorCatalog()).restoreState(saved)
            Issue.record("a version 1 state was accepted")
        } catch let error as DetectionError {
            #expect(error.code == .invalidState)
            #expect(error.message.contains("version 1"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
