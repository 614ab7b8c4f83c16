import Detection
import Foundation
import Simulation

/// A generated corpus of series without any anomaly: signals that repeat what they did before (seasons,
/// square and sawtooth waves, duty-cycled machines), wander within bounds (random walks, slow setpoint
/// ramps), or are simply awkward (quantised, irregularly sampled, with short gaps). An alarm system an
/// operator trusts raises nothing on any of them once warmed up. Deterministic: the same seed gives the same
/// series, so CI can run it (`vigil bench quiet`, and the detection tests).
public enum QuietCorpus {
    public struct Series: Sendable {
        public var name: String
        /// Milliseconds since the epoch, increasing.
        public var timestamps: [Int64]
        public var values: [Double]
    }

    public static let start: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z

    /// Every series of the corpus (about 150,000 readings in all).
    public static func series(seed: UInt64 = 1) -> [Series] {
        var out: [Series] = []
        var g = Generator(seed: seed &* 0x9E37_79B9_7F4A_7C15)
        func regular(_ name: String, count: Int, period: Double = 1, _ f: (inout Generator, Int) -> Double) {
            var t: [Int64] = [], v: [Double] = []
            t.reserveCapacity(count); v.reserveCapacity(count)
            for k in 0..<count {
                t.append(start + Int64((Double(k) * period * 1000).rounded()))
                v.append(f(&g, k))
            }
            out.append(Series(name: name, timestamps: t, values: v))
        }
        // Seasons: noisy sines of several periods (in readings), one with a second harmonic.
        for period in [60.0, 288, 1440] {
            regular("sine period \(Int(period))", count: max(8000, Int(period) * 8)) { g, k in
                50 + 10 * sin(2 * .pi * Double(k) / period) + 0.5 * g.normal()
            }
        }
        regular("daily cycle with harmonic (5 min readings)", count: 288 * 14, period: 300) { g, k in
            let p = 2 * Double.pi * Double(k) / 288
            return 20 + 6 * sin(p) + 2 * sin(2 * p + 1) + 0.3 * g.normal()
        }
        // Waves whose edges repeat exactly.
        regular("square wave", count: 8000) { g, k in (k / 100) % 2 == 0 ? 0 : 10 + 0.05 * g.normal() }
        regular("noisy square wave", count: 8000) { g, k in ((k / 150) % 2 == 0 ? 20 : 35) + 0.5 * g.normal() }
        regular("sawtooth", count: 8000) { g, k in Double(k % 120) * 0.25 + 0.2 * g.normal() }
        // A random walk reflected within bounds.
        var walk = 50.0
        regular("bounded random walk", count: 10000) { g, _ in
            walk += 0.3 * g.normal()
            if walk < 40 { walk = 80 - walk }
            if walk > 60 { walk = 120 - walk }
            return walk
        }
        // A duty-cycled machine: off (near zero) and on (a running current), random durations.
        var on = false, left = 0
        regular("duty-cycled motor current", count: 12000) { g, _ in
            if left == 0 {
                on.toggle()
                left = on ? 150 + Int(g.uniform() * 300) : 100 + Int(g.uniform() * 250)
            }
            left -= 1
            return on ? 31 + 0.6 * g.normal() : 0.2 + 0.05 * abs(g.normal())
        }
        // Slow setpoint ramps: hold, ramp up over 50 minutes (20 noise sigmas), hold, ramp back.
        regular("slow setpoint ramps", count: 12000) { g, k in
            let phase = k % 12000
            let level: Double
            switch phase {
            case ..<1500: level = 60
            case ..<4500: level = 60 + 10 * Double(phase - 1500) / 3000
            case ..<7500: level = 70
            case ..<10500: level = 70 - 10 * Double(phase - 7500) / 3000
            default: level = 60
            }
            return level + 0.5 * g.normal()
        }
        // Quantised, low-resolution sensors.
        regular("quantised level (1 unit steps)", count: 8000) { g, _ in (20 + 0.7 * g.normal()).rounded() }
        regular("quantised slow wave (0.5 steps)", count: 8000) { g, k in
            ((40 + 3 * sin(2 * .pi * Double(k) / 700) + 0.3 * g.normal()) * 2).rounded() / 2
        }
        // Irregular sampling with short gaps (at most 4 s on a 1 s sensor: silence is a real alert beyond that).
        var ts: [Int64] = [], vs: [Double] = []
        var t = Double(start)
        for k in 0..<10000 {
            let u = g.uniform()
            t += u < 0.02 ? 3000 + 1000 * g.uniform() : 400 + 1200 * g.uniform()
            ts.append(Int64(t))
            vs.append(70 + 4 * sin(2 * .pi * Double(k) / 500) + 0.8 * g.normal())
        }
        out.append(Series(name: "irregular sampling with short gaps", timestamps: ts, values: vs))
        return out
    }

    /// What one series raised: the alerts opened (after warm-up: the corpus has no limits) and their kinds.
    public struct Outcome: Sendable {
        public var name: String
        public var readings: Int
        public var alerts: [AnomalyEvent]
    }

    /// Streams every series through a fresh one-sensor detector (as `vigil score` does: warm-up by readings).
    public static func run(configuration: DetectorConfiguration = .init(), seed: UInt64 = 1) -> [Outcome] {
        var c = configuration
        c.warmUpSeconds = .infinity
        return series(seed: seed).map { s in
            let detector = PlantDetector(catalog: .adHoc(columns: ["value"]), configuration: c)
            var events: [AnomalyEvent] = []
            for k in s.timestamps.indices {
                detector.advance(to: s.timestamps[k], events: &events)
                _ = detector.ingest(sensor: 0, timestamp: s.timestamps[k], value: s.values[k], events: &events)
            }
            return Outcome(name: s.name, readings: s.values.count, alerts: events.filter { $0.stage == .opened })
        }
    }

    /// The simulator's SplitMix64 source, seeded as the corpus always was.
    typealias Generator = RandomSource
}
