import Detection
import Telemetry
import Testing

/// On-delay, off-delay, deadband and chattering, as the catalog's `alarm:` block sets them (issue #12 item 2),
/// on small signals whose answer is known.
@Suite("Alarm management: on-delay, off-delay, deadband, chattering")
struct AlarmManagementTests {
    static let t0: Int64 = 1_700_000_000_000

    /// Only the limits detector: what is tested is how limit alerts open and clear.
    static func limitsOnly(_ alarm: AlarmSettings? = nil) -> Catalog {
        let off = DetectorTuning(enabled: false)
        var catalog = singleSensorCatalog(
            limits: Limits(low: 0, high: 100),
            detectors: ["spike": off, "level_shift": off, "volatility_shift": off, "drift": off, "stuck": off,
                        "seasonal": off, "correlation": off, "silence": off])
        catalog.sensors[0].alarm = alarm
        return Catalog(plant: catalog.plant, site: catalog.site, assets: catalog.assets, sensors: catalog.sensors)
    }

    static func withAlarm(_ alarm: AlarmSettings) -> Catalog {
        var sensors = singleSensorCatalog().sensors
        sensors[0].alarm = alarm
        return Catalog(plant: "test", site: "test", assets: [Asset(id: "a", name: "a", kind: "test")], sensors: sensors)
    }

    /// Warm-up at 95, then a value hovering at the high limit: 12 readings just above, 12 just inside.
    static func hovering(cycles: Int, above: Double = 100.3, inside: Double = 99.6) -> [Double] {
        var noise = Noise(seed: 1300)
        var values = (0..<400).map { _ in 95 + 0.3 * noise.gaussian() }
        for _ in 0..<cycles { values += Array(repeating: above, count: 12) + Array(repeating: inside, count: 12) }
        return values + (0..<200).map { _ in 95 + 0.3 * noise.gaussian() }
    }

    static func opened(_ events: [AnomalyEvent]) -> [AnomalyEvent] { events.filter { $0.stage == .opened } }

    @Test("a value hovering at its limit is one alert with the default deadband, one per crossing without")
    func deadband() {
        let values = Self.hovering(cycles: 6)
        let without = Self.opened(run(values, catalog: Self.limitsOnly(AlarmSettings(deadband: 0, chatterCount: 0))).events)
        #expect(without.count == 6, "\(without.map(\.start))")
        // Default: 1 % of the 0-100 span, so 99.6 is still within the deadband of the 100 limit.
        let events = run(values, catalog: Self.limitsOnly()).events
        #expect(Self.opened(events).count == 1)
        #expect(events.map(\.stage) == [.opened, .resolved])
        // It clears once the reading is back below 99: at the first readings of the 95 that follows.
        let end = events.last?.end ?? 0
        #expect(end >= Self.t0 + Int64(400 + 6 * 24) * 1000 && end <= Self.t0 + Int64(400 + 6 * 24 + 12) * 1000)
    }

    @Test("a chattering limit alert latches: an opening within 60 s of the last stays open until 60 s after it, so no third")
    func chattering() throws {
        // 3 readings above, 10 inside (as many as the quiet rule needs): an opening every 13 s.
        var noise = Noise(seed: 1301)
        var values = (0..<400).map { _ in 50 + 0.3 * noise.gaussian() }
        for _ in 0..<8 { values += Array(repeating: 105, count: 3) + Array(repeating: 50, count: 10) }
        let lastBreach = values.count - 11
        values += Array(repeating: 50, count: 200)
        let free = Self.opened(run(values, catalog: Self.limitsOnly(AlarmSettings(chatterCount: 0))).events)
        #expect(free.count == 8)
        // Latched: an opening within 60 s of the previous one stays open until 60 s after that one, so no
        // three openings ever fall within 60 s; the last clears after the chatter, by the usual quiet rule.
        let events = run(values, catalog: Self.limitsOnly()).events
        let opens = Self.opened(events).map(\.detectedAt)
        #expect(opens.count < free.count && opens.count >= 2, "\(events.map { "\($0.stage) \($0.start)" })")
        for k in 2..<max(opens.count, 2) { #expect(opens[k] - opens[k - 2] > 60_000) }
        let latched = try #require(events.last)
        #expect(latched.stage == .resolved)
        let end = try #require(latched.end)
        #expect(end >= Self.t0 + Int64(lastBreach) * 1000 && end <= Self.t0 + Int64(lastBreach) * 1000 + 62_000)
        // Chattering as alarm health counts it (a sensor's third or later opening within 60 s): none left.
        var health = AlarmHealth()
        for e in events { health.record(e) }
        #expect(health.summary(start: Self.t0, end: Self.t0 + Int64(values.count) * 1000).chattering == 0)
        var freeHealth = AlarmHealth()
        for e in run(values, catalog: Self.limitsOnly(AlarmSettings(chatterCount: 0))).events { freeHealth.record(e) }
        #expect(freeHealth.summary(start: Self.t0, end: Self.t0 + Int64(values.count) * 1000).chattering > 0)
    }

    @Test("a limit on-delay: a short breach raises nothing, a long one opens where it began, on-delay later")
    func limitOnDelay() throws {
        var values = Array(repeating: 50.0, count: 400) + Array(repeating: 120.0, count: 5) + Array(repeating: 50.0, count: 100)
        let catalog = Self.limitsOnly(AlarmSettings(onDelay: 10))
        #expect(run(values, catalog: catalog).events.isEmpty)
        // Without the on-delay the same short breach is an alert.
        #expect(Self.opened(run(values, catalog: Self.limitsOnly()).events).count == 1)
        values = Array(repeating: 50.0, count: 400) + Array(repeating: 120.0, count: 30) + Array(repeating: 50.0, count: 100)
        let opened = Self.opened(run(values, catalog: catalog).events)
        let e = try #require(opened.first)
        #expect(opened.count == 1)
        #expect(e.kind == .outOfRange)
        #expect(e.start == Self.t0 + 400_000)
        #expect(e.detectedAt == Self.t0 + 410_000)
    }

    @Test("an on-delay keeps lone outliers quiet and reports a lasting shift once it has lasted")
    func statisticalOnDelay() throws {
        var values = gaussianSeries(count: 1200, seed: 1302)
        values[700] += 12
        #expect(Self.opened(run(values).events).contains { $0.kind == .spike })
        #expect(run(values, catalog: Self.withAlarm(AlarmSettings(onDelay: 5))).events.isEmpty)
        values[700] -= 12
        for k in 800..<950 { values[k] += 8 }
        let opened = Self.opened(run(values, catalog: Self.withAlarm(AlarmSettings(onDelay: 5))).events)
        let e = try #require(opened.first)
        #expect(opened.count == 1, "\(opened.map { "\($0.kind) \($0.start)" })")
        #expect(e.start >= Self.t0 + 800_000 && e.start <= Self.t0 + 802_000)
        #expect(e.detectedAt - e.start >= 5_000)
    }

    @Test("an off-delay holds a cleared alert open until the sensor has been normal that long")
    func offDelay() throws {
        var values = gaussianSeries(count: 1500, seed: 1303)
        for k in 600..<800 { values[k] += 6 }
        let plain = run(values).events
        let quick = try #require(plain.last?.end)
        #expect(plain.map(\.stage) == [.opened, .resolved])
        let held = run(values, catalog: Self.withAlarm(AlarmSettings(offDelay: 120))).events
        #expect(held.map(\.stage) == [.opened, .resolved])
        let end = try #require(held.last?.end)
        #expect(end >= Self.t0 + 800_000 + 119_000, "resolved at +\((end - Self.t0) / 1000) s")
        #expect(end > quick)
    }
}
