import Detection
import Telemetry
import Testing

@Suite("Related sensors discovered when the catalog names none")
struct PairDiscoveryTests {
    /// An asset of three sensors without `related`: two driven by one load, one independent.
    func asset(related: Bool = false) -> Catalog {
        Catalog(
            plant: "p", site: "s", assets: [Asset(id: "m", name: "m", kind: "machine")],
            sensors: [
                Sensor(id: "m.flow", name: "flow", unit: "", asset: "m", topic: "f", samplePeriod: 1),
                Sensor(id: "m.power", name: "power", unit: "", asset: "m", topic: "p", samplePeriod: 1,
                       related: related ? ["m.flow"] : []),
                Sensor(id: "m.ambient", name: "ambient", unit: "", asset: "m", topic: "a", samplePeriod: 1),
            ])
    }

    /// Feeds readings `range`; power loses its relation to the load in `broken`.
    func feed(_ d: PlantDetector, _ range: Range<Int>, broken: Range<Int> = 0..<0, noise: inout Noise,
              load: inout Double) -> ([Double], [AnomalyEvent]) {
        var scores: [Double] = []
        var events: [AnomalyEvent] = []
        var frozen = load
        for k in range {
            let t = Int64(1_700_000_000_000) + Int64(k) * 1000
            load = 0.99 * load + noise.gaussian()
            if k == broken.lowerBound { frozen = load }
            let driving = broken.contains(k) ? frozen : load
            d.advance(to: t, events: &events)
            scores.append(d.ingest(sensor: 0, timestamp: t, value: 50 + load + 0.3 * noise.gaussian(), events: &events))
            scores.append(d.ingest(sensor: 1, timestamp: t, value: 20 + 0.5 * driving + 0.2 * noise.gaussian(), events: &events))
            scores.append(d.ingest(sensor: 2, timestamp: t, value: 10 + noise.gaussian(), events: &events))
        }
        return (scores, events)
    }

    @Test("the coupled sensors become partners, the independent one does not", arguments: [1, 2, 3] as [UInt64])
    func discovered(seed: UInt64) {
        let d = PlantDetector(catalog: asset())
        var noise = Noise(seed: seed)
        var load = 0.0
        _ = feed(d, 0..<200, noise: &noise, load: &load)
        #expect(d.partners(sensor: 0).isEmpty, "no decision before the warm-up ends")
        _ = feed(d, 200..<400, noise: &noise, load: &load)
        #expect(d.partners(sensor: 0) == ["m.power"])
        #expect(d.partners(sensor: 1) == ["m.flow"])
        #expect(d.partners(sensor: 2).isEmpty)
    }

    @Test("an asset of many coupled sensors gets a bounded number of pairs")
    func bounded() {
        let ids = (0..<10).map { "m.s\($0)" }
        let catalog = Catalog(
            plant: "p", site: "s", assets: [Asset(id: "m", name: "m", kind: "machine")],
            sensors: ids.map { Sensor(id: SensorID($0), name: $0, unit: "", asset: "m", topic: $0, samplePeriod: 1) })
        let d = PlantDetector(catalog: catalog)
        var noise = Noise(seed: 9)
        var load = 0.0
        var events: [AnomalyEvent] = []
        for k in 0..<500 {
            let t = Int64(1_700_000_000_000) + Int64(k) * 1000
            load = 0.99 * load + noise.gaussian()
            for i in ids.indices {
                _ = d.ingest(sensor: i, timestamp: t, value: Double(i) + load + 0.1 * noise.gaussian(), events: &events)
            }
        }
        let partners = ids.indices.map { d.partners(sensor: $0) }
        let pairs = partners.reduce(0) { $0 + $1.count } / 2
        #expect(pairs == 4, "\(partners)")
        #expect(partners.allSatisfy { $0.count <= 4 })
        // Only the first eight sensors of an asset are candidates.
        #expect(partners[8].isEmpty && partners[9].isEmpty)
        // Symmetric: each partner lists the other.
        for (i, list) in partners.enumerated() {
            for p in list { #expect(partners[ids.firstIndex(of: p.rawValue)!].contains(SensorID(ids[i]))) }
        }
    }

    @Test("a catalog that relates sensors of the asset is used as is")
    func catalogWins() {
        let d = PlantDetector(catalog: asset(related: true))
        var noise = Noise(seed: 4)
        var load = 0.0
        _ = feed(d, 0..<400, noise: &noise, load: &load)
        #expect(d.partners(sensor: 1) == ["m.flow"])
        #expect(d.partners(sensor: 2).isEmpty)
    }

    @Test("a broken relation between discovered partners is a correlation break", arguments: [5, 6, 7] as [UInt64])
    func broken(seed: UInt64) throws {
        let d = PlantDetector(catalog: asset())
        var noise = Noise(seed: seed)
        var load = 0.0
        let (_, events) = feed(d, 0..<1900, broken: 1500..<1800, noise: &noise, load: &load)
        let t0: Int64 = 1_700_000_000_000
        let opened = events.filter { $0.stage == .opened }
        let during = opened.filter { $0.detectedAt >= t0 + 1_500_000 && $0.detectedAt < t0 + 1_800_000 }
        #expect(during.contains { $0.kind == .correlationBreak && ($0.sensor == "m.flow" || $0.sensor == "m.power") },
                "\(during.map { "\($0.sensor) \($0.kind)" })")
        #expect(!opened.contains { $0.kind == .correlationBreak && $0.detectedAt < t0 + 1_500_000 })
    }

    @Test("discovery in progress and its outcome survive a save and restore")
    func stateRoundTrip() throws {
        let original = PlantDetector(catalog: asset())
        var noise = Noise(seed: 8)
        var load = 0.0
        _ = feed(original, 0..<150, noise: &noise, load: &load)
        let restored = PlantDetector(catalog: asset())
        try restored.restoreState(original.saveState())
        var noiseB = noise, loadB = load
        let a = feed(original, 150..<1200, broken: 900..<1100, noise: &noise, load: &load)
        let b = feed(restored, 150..<1200, broken: 900..<1100, noise: &noiseB, load: &loadB)
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(restored.partners(sensor: 0) == ["m.power"])
        #expect(restored.saveState() == original.saveState())
    }
}
