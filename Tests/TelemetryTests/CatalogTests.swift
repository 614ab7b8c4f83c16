import Testing
import Telemetry
import VigilTestSupport

@Suite struct CatalogTests {
    @Test func demoPlantLoads() throws {
        let catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
        #expect(catalog.assets.count >= 4)
        #expect((15...30).contains(catalog.sensors.count))
        let current = try #require(catalog.sensor("pump1.current"))
        #expect(current.unit == "A")
        #expect(current.limits == Limits(low: 0, high: 60))
        // Relations are symmetric after loading.
        let flow = try #require(catalog.sensor("pump1.flow"))
        #expect(flow.related.contains("pump1.current"))
        #expect(catalog.indexByTopic["plant/north/pump1/flow"] == catalog.index(of: "pump1.flow"))
        #expect(catalog.sensor("pump1.bearing_temp")?.samplePeriod == 10)
    }

    static let base = """
        plant: test
        assets:
          - id: p1
        sensors:
          - {id: p1.flow, asset: p1, topic: t/flow}

        """

    @Test(arguments: [
        ("plant: x\n", "missing required key `assets`"),
        (base.replacingOccurrences(of: "asset: p1,", with: "asset: p9,"), "unknown asset `p9`"),
        (base.replacingOccurrences(of: "topic: t/flow", with: "topic: t/+"), "without wildcards"),
        (base + "  - {id: p1.flow, asset: p1, topic: t/x}\n", "duplicate sensor id `p1.flow`"),
        (base + "  - {id: p1.b, asset: p1, topic: t/flow}\n", "already used by sensor `p1.flow`"),
        (base + "  - {id: p1.c, asset: p1, topic: t/c, limits: {low: 5, high: 1}}\n", "expected `low` below `high`"),
        (base + "  - {id: p1.d, asset: p1, topic: t/d, period: soon}\n", "expected a duration"),
        (base + "  - {id: p1.e, asset: p1, topic: t/e, related: [nope]}\n", "unknown related sensor `nope`"),
        (base + "  - {id: p1.f, asset: p1, topic: t/f, detectors: {spikes: off}}\n", "unknown detector `spikes`"),
        (base + "  - {id: p1.g, asset: p1, topic: t/g, unti: A}\n", "did you mean `unit`"),
        (base + "  - {id: 'p1 h', asset: p1, topic: t/h}\n", "expected a sensor id"),
        ("plant: [unclosed\n", "not valid YAML"),
    ])
    func errorsNameFileKeyAndExpectation(_ yaml: String, _ fragment: String) {
        do {
            _ = try Catalog.parse(yaml: yaml, file: "plant.yaml")
            Issue.record("expected an error containing \(fragment)")
        } catch {
            let text = "\(error)"
            #expect(text.contains(fragment), "\(text)")
            #expect(text.hasPrefix("plant.yaml"), "\(text)")
        }
    }

    @Test func keyPathInError() {
        let yaml = Self.base + "  - {id: p1.c, asset: p1, topic: t/c, limits: {low: x}}\n"
        #expect(throws: (any Error).self) { try Catalog.parse(yaml: yaml, file: "c.yaml") }
        do { _ = try Catalog.parse(yaml: yaml, file: "c.yaml") } catch {
            #expect("\(error)".contains("sensors[1].limits.low"), "\(error)")
        }
    }

    @Test func detectorTuning() throws {
        let yaml = Self.base + "  - {id: p1.c, asset: p1, topic: t/c, detectors: {spike: off, drift: {threshold: 8}, seasonal: {period: 1h}}}\n"
        let c = try Catalog.parse(yaml: yaml)
        let s = try #require(c.sensor("p1.c"))
        #expect(s.detectors["spike"] == DetectorTuning(enabled: false))
        #expect(s.detectors["drift"] == DetectorTuning(enabled: true, parameters: ["threshold": 8]))
        #expect(s.detectors["seasonal"]?.parameters["period"] == 3600)
    }

    @Test func alarmSettingsFromDefaultsAndSensor() throws {
        let yaml = """
            plant: test
            defaults: {alarm: {off_delay: 30s, chatter: {count: 4}}}
            assets:
              - id: p1
            sensors:
              - {id: p1.a, asset: p1, topic: t/a}
              - {id: p1.b, asset: p1, topic: t/b, limits: {low: 0, high: 10}, alarm: {on_delay: 2m, deadband: 0.5, chatter: {window: 90s}}}
              - {id: p1.c, asset: p1, topic: t/c, alarm: {chatter: off}}

            """
        let c = try Catalog.parse(yaml: yaml)
        #expect(c.sensor("p1.a")?.alarm == AlarmSettings(offDelay: 30, chatterCount: 4))
        #expect(c.sensor("p1.b")?.alarm == AlarmSettings(onDelay: 120, offDelay: 30, deadband: 0.5, chatterCount: 4, chatterWindow: 90))
        #expect(c.sensor("p1.c")?.alarm == AlarmSettings(offDelay: 30, chatterCount: 0))
        #expect(try Catalog.parse(yaml: Self.base).sensors[0].alarm == nil)
    }

    @Test(arguments: [
        ("alarm: {on_delay: soon}", "expected a duration"),
        ("alarm: {off_delay: 2d}", "expected a duration from 0s to 24h"),
        ("alarm: {deadband: -1}", "expected a deadband of 0 or more"),
        ("alarm: {deadband: 5}, limits: {low: 0, high: 10}", "below half the span"),
        ("alarm: {chatter: {count: 9}}", "chatter count from 2 to 5"),
        ("alarm: {chatter: {window: 0s}}", "chatter window above 0s"),
        ("alarm: {ondelay: 5s}", "did you mean `on_delay`"),
    ])
    func alarmSettingErrors(_ fragment: String, _ expected: String) {
        let yaml = Self.base + "  - {id: p1.x, asset: p1, topic: t/x, \(fragment)}\n"
        do {
            _ = try Catalog.parse(yaml: yaml, file: "plant.yaml")
            Issue.record("expected an error containing \(expected)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
            #expect("\(error)".contains("sensors[1]"), "\(error)")
        }
    }
}
