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

    @Test("the live window follows rate, floods, chattering and standing alerts as they happen, in bounded memory")
    func liveWindow() {
        var w = AlarmHealthWindow()
        let t0: Int64 = 1_700_000_000_000
        func event(_ id: Int, _ sensor: String, _ stage: EventStage) -> AnomalyEvent {
            AnomalyEvent(id: "\(sensor):\(id)", stage: stage, sensor: SensorID(sensor), asset: "a", kind: .spike,
                         severity: .warning, score: 0.7, start: t0, detectedAt: t0, baseline: 0, peak: 1, deviation: 1,
                         duration: 0)
        }
        // Ten alerts in 100 s: many, not yet a flood.
        for k in 0..<10 { w.record(event(k, "s\(k)", .opened), at: t0 + Int64(k) * 10_000) }
        #expect(w.recent == 10 && !w.inFlood && w.floods == 0)
        // The eleventh makes a flood; it lasts while more than 10 are inside the last 10 minutes.
        w.record(event(10, "s10", .opened), at: t0 + 100_000)
        #expect(w.inFlood && w.floods == 1)
        w.record(event(11, "s11", .opened), at: t0 + 110_000)
        #expect(w.floods == 1, "still the same flood")
        w.advance(to: t0 + 600_000 + 5_000)   // the first opening has left the window: 11 remain
        #expect(w.recent == 11 && w.inFlood)
        w.advance(to: t0 + 600_000 + 15_000)  // two have left: 10, the flood is over
        #expect(w.recent == 10 && !w.inFlood && w.floods == 1)
        w.advance(to: t0 + 2_000_000)
        #expect(w.recent == 0)
        for k in 0..<12 { w.record(event(k, "s\(k)", .resolved), at: t0 + 2_000_000) }
        #expect(w.recent == 0, "resolving opens nothing")
        // A sensor that opens three times within a minute chatters (the third opening), not one that
        // opens three times in three minutes.
        let t1 = t0 + 3_000_000
        for k in 0..<3 {
            w.record(event(100 + k, "c", .opened), at: t1 + Int64(k) * 20_000)
            w.record(event(100 + k, "c", .resolved), at: t1 + Int64(k) * 20_000 + 5_000)
        }
        for k in 0..<3 {
            w.record(event(200 + k, "slow", .opened), at: t1 + Int64(k) * 70_000)
            w.record(event(200 + k, "slow", .resolved), at: t1 + Int64(k) * 70_000 + 5_000)
        }
        #expect(w.chattering == 1)
        // Standing: open for more than a day; a resolved one no longer counts.
        w.record(event(300, "st", .opened), at: t1 + 400_000)
        #expect(w.standing(at: t1 + 400_000 + 86_400_000 + 1) == 1)
        w.record(event(300, "st", .resolved), at: t1 + 400_000 + 86_400_000 + 2)
        #expect(w.standing(at: t1 + 400_000 + 86_400_000 + 3) == 0)
        // An absurd flood keeps at most `capacity` openings.
        var big = AlarmHealthWindow()
        for k in 0..<(AlarmHealthWindow.capacity + 500) {
            big.record(event(k, "s\(k % 50)", .opened), at: t0 + Int64(k))
            big.record(event(k, "s\(k % 50)", .resolved), at: t0 + Int64(k))
        }
        #expect(big.recent == AlarmHealthWindow.capacity)
        #expect(big.standing(at: t0 + 200_000_000) == 0)
    }
}
