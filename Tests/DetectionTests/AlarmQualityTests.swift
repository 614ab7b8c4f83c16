import Detection
import Foundation
import Telemetry
import Testing
import VigilBenchmarks

@Suite("Alarms an operator can trust (issue #12)")
struct AlarmQualityTests {
    @Test("the no-anomaly corpus raises no alert after warm-up")
    func quietCorpus() {
        for outcome in QuietCorpus.run() {
            #expect(outcome.alerts.isEmpty, "\(outcome.name): \(outcome.alerts.map { "\($0.kind.rawValue) at \($0.start)" })")
        }
    }

    @Test("a square wave raises nothing once both levels were held; a far new level is one event")
    func squareWave() {
        var noise = Noise(seed: 1200)
        var values = (0..<3000).map { k in ((k / 100) % 2 == 0 ? 20.0 : 35.0) + 0.5 * noise.gaussian() }
        #expect(run(values).events.isEmpty)
        for k in 2000..<2100 { values[k] = 80 + 0.5 * noise.gaussian() }
        let opened = run(values).events.filter { $0.stage == .opened }
        #expect(opened.count == 1, "\(opened.map { "\($0.kind.rawValue) at \($0.start)" })")
        #expect(opened.first.map { abs(Int($0.start - 1_700_000_000_000) / 1000 - 2000) <= 3 } == true)
    }

    @Test("a duty-cycled machine is quiet; running at three times its current is reported")
    func dutyCycle() {
        var noise = Noise(seed: 1201)
        var values: [Double] = []
        for k in 0..<4000 { values.append((k / 250) % 2 == 0 ? 31 + 0.6 * noise.gaussian() : 0.2 + 0.05 * abs(noise.gaussian())) }
        #expect(run(values).events.isEmpty)
        for k in 3000..<3250 { values[k] = 100 + 0.6 * noise.gaussian() }
        #expect(run(values).events.contains { $0.stage == .opened && $0.start >= 1_700_000_000_000 + 2_990_000 })
    }

    @Test("a level event resolves when the level comes back, and the way back opens nothing")
    func returnToNormal() throws {
        var values = gaussianSeries(count: 1500, seed: 1202)
        for k in 600..<800 { values[k] += 5 }
        let events = run(values).events
        #expect(events.map(\.stage) == [.opened, .resolved], "\(events.map { "\($0.stage) \($0.kind.rawValue) \($0.start)" })")
        let resolved = try #require(events.last)
        #expect(try #require(resolved.end) <= 1_700_000_000_000 + 830_000)
    }

    @Test("alarm health counts rate, floods, chattering and standing alerts")
    func health() {
        var h = AlarmHealth()
        let t0: Int64 = 1_700_000_000_000
        func event(_ id: Int, _ sensor: String, _ stage: EventStage, _ t: Int64) -> AnomalyEvent {
            AnomalyEvent(id: "\(sensor):\(id)", stage: stage, sensor: SensorID(sensor), asset: "a", kind: .spike,
                         severity: .warning, score: 0.7, start: t, detectedAt: t, baseline: 0, peak: 1, deviation: 1,
                         duration: 0)
        }
        // A flood: 12 alerts in 2 minutes on different sensors; one sensor chatters 3 times in 30 s.
        for k in 0..<12 {
            h.record(event(k, "s\(k)", .opened, t0 + Int64(k) * 10_000))
            h.record(event(k, "s\(k)", .resolved, t0 + Int64(k) * 10_000 + 60_000))
        }
        for k in 0..<3 {
            h.record(event(100 + k, "c", .opened, t0 + 200_000 + Int64(k) * 10_000))
            h.record(event(100 + k, "c", .resolved, t0 + 205_000 + Int64(k) * 10_000))
        }
        // A standing alert: open for two days.
        h.record(event(200, "st", .opened, t0 + 300_000))
        let s = h.summary(start: t0, end: t0 + 2 * 86_400_000 + 300_000)
        #expect(s.alerts == 16)
        #expect(s.peakPer10Minutes == 16)
        #expect(s.floods == 1)
        #expect(s.secondsInFlood > 100 && s.secondsInFlood <= 600)
        #expect(s.chattering == 1)
        #expect(s.standing == 1)
    }
}
