import Detection
import Foundation
import Telemetry

/// A small deterministic generator (SplitMix64) with Gaussian draws, so each test's signal is reproducible.
struct Noise {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// A one-sensor catalog (1 s period) with optional limits and detector tuning.
func singleSensorCatalog(
    limits: Limits = Limits(), detectors: [String: DetectorTuning] = [:], period: Double = 1
) -> Catalog {
    Catalog(
        plant: "test", site: "test", assets: [Asset(id: "a", name: "a", kind: "test")],
        sensors: [Sensor(id: "a.x", name: "x", unit: "u", asset: "a", topic: "t/x", samplePeriod: period,
                         limits: limits, detectors: detectors)])
}

/// Runs one series (1 s apart from t0) through a fresh detector; returns the scores and the events.
func run(
    _ values: [Double], catalog: Catalog = singleSensorCatalog(), configuration: DetectorConfiguration = .init(),
    t0: Int64 = 1_700_000_000_000
) -> (scores: [Double], events: [AnomalyEvent], detector: PlantDetector) {
    let detector = PlantDetector(catalog: catalog, configuration: configuration)
    var events: [AnomalyEvent] = []
    var scores: [Double] = []
    for (k, v) in values.enumerated() {
        let t = t0 + Int64(k) * 1000
        detector.advance(to: t, events: &events)
        scores.append(detector.ingest(sensor: 0, timestamp: t, value: v, events: &events))
    }
    return (scores, events, detector)
}

func gaussianSeries(count: Int, seed: UInt64, mean: Double = 10, sd: Double = 1) -> [Double] {
    var noise = Noise(seed: seed)
    return (0..<count).map { _ in mean + sd * noise.gaussian() }
}
