import Detection
import Telemetry
import Testing

/// `advance(to:)` checks only the sensors whose silence may be due (a queue of deadlines): it must report exactly
/// what a check of every sensor at every advance reports, in the same order.
@Suite("Silence detection by deadlines")
struct SilenceQueueTests {
    @Test("silences match a check of every sensor at every advance", arguments: [1, 2, 3] as [UInt64])
    func matchesFullScan(seed: UInt64) throws {
        let n = 60
        let periods: [Double] = [0.5, 1, 2, 3]
        let sensors = (0..<n).map { i in
            Sensor(id: SensorID("a\(i / 10).s\(i)"), name: "s\(i)", unit: "u", asset: "a\(i / 10)", topic: "t/\(i)",
                   samplePeriod: periods[i % periods.count])
        }
        let catalog = Catalog(plant: "p", site: "s", assets: (0..<6).map { Asset(id: "a\($0)", name: "a", kind: "k") },
                              sensors: sensors)
        var configuration = DetectorConfiguration()
        configuration.warmUpReadings = 20
        var detector = PlantDetector(catalog: catalog, configuration: configuration)
        // The reference: each sensor's limit, when it was last heard, and whether its silence is open.
        let limits = sensors.map {
            max(configuration.silencePeriods * $0.samplePeriod * 1000, configuration.minimumSilenceSeconds * 1000)
        }
        var heardAt = [Int64](repeating: 0, count: n)
        var readings = [Int](repeating: 0, count: n)
        var silent = [Bool](repeating: false, count: n)
        var clock = Int64.min
        var expected: [String] = []
        var actual: [String] = []
        var events: [AnomalyEvent] = []
        func collect() {
            for e in events where e.kind == .silence {
                actual.append("\(e.stage) \(e.sensor.rawValue) \(e.stage == .opened ? e.detectedAt : e.end ?? 0)")
            }
            events.removeAll()
        }

        var noise = Noise(seed: seed)
        let t0: Int64 = 1_700_000_000_000
        var next = sensors.map { _ in t0 }
        var outageUntil = sensors.map { _ in t0 }
        let step: Int64 = 100
        var restored = false
        for k in 0..<4000 {
            let now = t0 + Int64(k) * step
            let phase2 = k >= 1000
            // A plant-wide outage: nothing is heard and the clock stands still, then jumps (many silences at once).
            let plantOutage = (2500..<2700).contains(k)
            if !plantOutage, !phase2 || noise.uniform() < 0.7 {
                detector.advance(to: now, events: &events)
                clock = max(clock, now)
                for i in 0..<n where readings[i] > configuration.warmUpReadings && !silent[i]
                    && Double(now &- heardAt[i]) > limits[i] {
                    expected.append("opened \(sensors[i].id.rawValue) \(now)")
                    silent[i] = true
                }
                collect()
            }
            if k == 3200, !restored {
                // A restored state rebuilds the queue (a fresh detector's clock starts unset).
                let copy = PlantDetector(catalog: catalog, configuration: configuration)
                try copy.restoreState(detector.saveState())
                detector = copy
                clock = .min
                restored = true
            }
            guard !plantOutage else { continue }
            for i in 0..<n where now >= next[i] {
                next[i] += Int64(sensors[i].samplePeriod * 1000)
                if phase2, now < outageUntil[i] { continue }
                if phase2, noise.uniform() < 0.02 {
                    outageUntil[i] = now + Int64(noise.uniform() * 30_000)
                    continue
                }
                // Sometimes late (stamped before the clock), never a repeat of the last reading.
                let t = phase2 && noise.uniform() < 0.1 ? now - Int64(noise.uniform() * 3000) : now
                _ = detector.ingest(sensor: i, timestamp: t, value: 10 + noise.gaussian(), events: &events)
                if silent[i] {
                    expected.append("resolved \(sensors[i].id.rawValue) \(t)")
                    silent[i] = false
                }
                heardAt[i] = max(clock, t)
                readings[i] += 1
                collect()
            }
        }
        #expect(expected.count > 100)
        #expect(actual == expected)
    }
}
