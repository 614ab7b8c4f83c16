// Large-catalog micro-benchmark of the detector path the live pipeline drives (#14 item 13), without a broker:
// N sensors (10 per asset, period 1 s, limits 0..100, as Benchmarks/large-catalog.py writes them), rounds of one
// reading per sensor per second (stamped with the round's second, spread over it); before each reading the clock
// is advanced to the wall-clock millisecond, as `Pipeline.ingest` does with the time a message was received
// (the live agent's clock: one silence check per millisecond at most).
//
//   swift build -c release --product DetectScaleBench
//   .build/release/DetectScaleBench 100000 10 [seconds]
import CAllocationCounter
import Detection
import Foundation
import Telemetry
import VigilSupport

func status(_ key: String) -> String {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix(key) {
        return line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
    }
    return "?"
}

/// Bytes the program holds on the heap (glibc's count of allocated chunks), to tell its own memory from free
/// pages the allocator keeps.
func liveHeap() -> String {
    "\(vigil_live_heap_bytes() / 1024) kB"
}

let args = CommandLine.arguments
let n = args.count > 1 ? Int(args[1])! : 100_000
let rounds = args.count > 2 ? Int(args[2])! : 10
let budget = args.count > 3 ? Double(args[3])! : 30

var yaml = "plant: Large plant\nsite: large\ndefaults: {period: 1s, decimals: 1}\nassets:\n"
for a in 0..<((n + 9) / 10) { yaml += "  - {id: a\(a), name: Asset \(a), kind: machine}\n" }
yaml += "sensors:\n"
for i in 0..<n {
    let a = i / 10
    yaml += "  - {id: a\(a).s\(i), name: Sensor \(i), unit: bar, asset: a\(a), topic: plant/a\(a)/s\(i), limits: {low: 0, high: 100}}\n"
}
print("before load: VmRSS \(status("VmRSS")), live heap \(liveHeap())")
var clock = ContinuousClock.now
let catalog = try Catalog.parse(yaml: yaml)
yaml = ""
let loadTime = ContinuousClock.now - clock
print("catalog: \(n) sensors, parsed in \(loadTime); VmRSS \(status("VmRSS")), VmHWM \(status("VmHWM"))")
// What the catalog itself holds once the parser's garbage is handed back to the system (glibc).
returnFreePagesToSystem()
print("catalog held (after malloc_trim): VmRSS \(status("VmRSS")), live heap \(liveHeap())")
clock = ContinuousClock.now
let detector = PlantDetector(catalog: catalog)
print("detector built in \(ContinuousClock.now - clock); VmRSS \(status("VmRSS")), VmHWM \(status("VmHWM")), live heap \(liveHeap())")

var events: [AnomalyEvent] = []
events.reserveCapacity(64)
let t0: Int64 = 1_767_225_600_000
var done = 0
var eventCount = 0
vigil_allocation_counting(1)
let allocationsBefore = vigil_allocation_count()
let start = ContinuousClock.now
var stoppedEarly = false
var lastNow = Int64.min
outer: for r in 0..<rounds {
    let ts = t0 + Int64(r) * 1000
    for i in 0..<n {
        // Readings of a round spread over its second, as a live plant's arrive.
        let t = ts + Int64(i) * 1000 / Int64(n)
        let wall = ContinuousClock.now - start
        let now = t0 + wall.components.seconds * 1000 + wall.components.attoseconds / 1_000_000_000_000_000
        events.removeAll(keepingCapacity: true)
        detector.advance(to: max(now, lastNow), events: &events)
        lastNow = max(now, lastNow)
        let x = 50 + Double((i &* 7919 &+ r) % 13 - 6) * 0.1
        _ = detector.ingest(sensor: i, timestamp: t, value: x, events: &events)
        eventCount += events.count
        done += 1
        if done & 1023 == 0, (ContinuousClock.now - start) > .seconds(budget) { stoppedEarly = true; break outer }
    }
}
let elapsed = ContinuousClock.now - start
let allocations = vigil_allocation_count() - allocationsBefore
vigil_allocation_counting(0)
let seconds = elapsed / .seconds(1)
print("ingested \(done) of \(n * rounds) readings\(stoppedEarly ? " (stopped at the time budget)" : "") in "
      + String(format: "%.3f s: %.0f readings/s, %.2f µs/reading; %d events", seconds, Double(done) / seconds,
               seconds * 1e6 / Double(done), eventCount) + "; \(allocations) allocations")
// Silence: every sensor stops; the clock moves on in 1 s ticks (the agent's tick) until all have gone silent.
let last = max(lastNow, t0 + Int64(rounds) * 1000)
var silences = 0
let tickStart = ContinuousClock.now
var ticks = 0
for k in 1...30 {
    events.removeAll(keepingCapacity: true)
    detector.advance(to: last + Int64(k) * 1000, events: &events)
    silences += events.count
    ticks += 1
}
print("then \(ticks) ticks of silence: \(silences) events in \(ContinuousClock.now - tickStart)")
print("end: VmRSS \(status("VmRSS")), VmHWM \(status("VmHWM"))")
