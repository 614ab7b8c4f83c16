import Detection
import Telemetry
import Testing

/// The field fixes of issue #14: each test reproduces what was seen on a plant.
@Suite("Field fixes (issue #14)")
struct FieldFixTests {
    static let t0: Int64 = 1_700_000_000_000

    /// A warmed-up detector of one 1 s sensor around 30 with a high limit of 60, and its events so far.
    static func warmed(readings: Int = 400) -> (PlantDetector, [AnomalyEvent]) {
        let detector = PlantDetector(catalog: singleSensorCatalog(limits: Limits(low: 0, high: 60)))
        var events: [AnomalyEvent] = []
        var noise = Noise(seed: 1400)
        for k in 0..<readings {
            let t = t0 + Int64(k) * 1000
            detector.advance(to: t, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: t, value: 30 + noise.gaussian(), events: &events)
        }
        return (detector, events)
    }

    @Test("a limit breach right after silence resolves is reported (no cooldown on limits)")
    func limitAfterSilence() throws {
        var (detector, events) = Self.warmed()
        events.removeAll()
        let last = Self.t0 + 399_000
        for k in 1...30 { detector.advance(to: last + Int64(k) * 1000, events: &events) }
        #expect(events.map(\.kind) == [.silence])
        for k in 31...40 {
            let t = last + Int64(k) * 1000
            detector.advance(to: t, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: t, value: 100, events: &events)
        }
        let opened = events.filter { $0.stage == .opened }
        #expect(opened.map(\.kind) == [.silence, .outOfRange], "\(events.map { "\($0.stage) \($0.kind.rawValue)" })")
        let breach = try #require(opened.last)
        #expect(breach.limit == 60)
        #expect(breach.severity == .critical)
        #expect(breach.start == last + 31_000)
    }

    @Test("a limit breach right after another event resolves is reported")
    func limitAfterSpike() throws {
        var (detector, events) = Self.warmed()
        events.removeAll()
        var noise = Noise(seed: 1401)
        var t = Self.t0 + 400_000
        func feed(_ x: Double) {
            detector.advance(to: t, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: t, value: x, events: &events)
            t += 1000
        }
        feed(45)  // a spike within the limits
        while !events.contains(where: { $0.stage == .resolved }) && t < Self.t0 + 500_000 { feed(30 + noise.gaussian()) }
        #expect(events.map(\.stage) == [.opened, .resolved])
        feed(100)
        #expect(events.last?.kind == .outOfRange)
        #expect(events.last?.stage == .opened)
    }

    @Test("readings flushed late after an outage resolve the silence once and open nothing else")
    func lateFlush() {
        var (detector, events) = Self.warmed()
        events.removeAll()
        var noise = Noise(seed: 1402)
        let last = Self.t0 + 399_000
        for k in 1...40 { detector.advance(to: last + Int64(k) * 1000, events: &events) }
        // The bridge flushes the 20 readings it buffered (stamped during the outage), 5 ms apart.
        let flushAt = last + 40_000
        for k in 1...20 {
            detector.advance(to: flushAt + Int64(k) * 5, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: last + Int64(k) * 1000, value: 30 + noise.gaussian(), events: &events)
        }
        // Live readings again.
        for k in 41...200 {
            let t = last + Int64(k) * 1000
            detector.advance(to: t, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: t, value: 30 + noise.gaussian(), events: &events)
        }
        #expect(events.map { "\($0.stage) \($0.kind.rawValue)" } == ["opened silence", "resolved silence"])
    }

    @Test("readings whose timestamps run backwards do not make silence flap")
    func backwardTimestamps() {
        var (detector, events) = Self.warmed()
        events.removeAll()
        var noise = Noise(seed: 1403)
        let last = Self.t0 + 399_000
        for k in 1...100 {
            // The receive clock moves on; the sensor's own clock was set back and runs backwards.
            detector.advance(to: last + Int64(k) * 1000, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: last - Int64(k) * 1000, value: 30 + noise.gaussian(), events: &events)
        }
        #expect(events.isEmpty, "\(events.map { "\($0.stage) \($0.kind.rawValue)" })")
    }

    @Test("five exact duplicates of a reading are not a stuck sensor")
    func duplicates() {
        var (detector, events) = Self.warmed()
        events.removeAll()
        var noise = Noise(seed: 1404)
        for k in 400..<600 {
            let t = Self.t0 + Int64(k) * 1000
            let x = 30 + noise.gaussian()
            detector.advance(to: t, events: &events)
            // The reading and five exact duplicates of it (a redelivering bridge).
            let copies = k == 450 ? 6 : 1
            for _ in 0..<copies { _ = detector.ingest(sensor: 0, timestamp: t, value: x, events: &events) }
        }
        #expect(events.isEmpty, "\(events.map { "\($0.stage) \($0.kind.rawValue)" })")
    }

    @Test("the very first reading of a sensor is checked against its limits")
    func firstReading() throws {
        let detector = PlantDetector(catalog: singleSensorCatalog(limits: Limits(low: 0, high: 60)))
        var events: [AnomalyEvent] = []
        let score = detector.ingest(sensor: 0, timestamp: Self.t0, value: 75, events: &events)
        #expect(score == 1)
        let event = try #require(events.first)
        #expect(event.kind == .outOfRange)
        #expect(event.start == Self.t0)
    }

    @Test("out of range raised during warm-up resolves once the readings are back, before warm-up ends")
    func warmUpResolves() throws {
        let detector = PlantDetector(catalog: singleSensorCatalog(limits: Limits(low: 0, high: 60)))
        var events: [AnomalyEvent] = []
        var noise = Noise(seed: 1405)
        for k in 0..<120 {
            let t = Self.t0 + Int64(k) * 1000
            let x = (50..<53).contains(k) ? 70 : 30 + noise.gaussian()
            detector.advance(to: t, events: &events)
            _ = detector.ingest(sensor: 0, timestamp: t, value: x, events: &events)
        }
        #expect(events.map { "\($0.stage) \($0.kind.rawValue)" } == ["opened out_of_range", "resolved out_of_range"])
        let resolved = try #require(events.last)
        #expect(try #require(resolved.end) <= Self.t0 + 70_000)
        #expect(detector.openEvents.isEmpty)
    }
}
