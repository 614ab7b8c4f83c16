import Detection
import Foundation
import Telemetry

/// Speed of the detector on a plant catalog with synthetic readings: throughput, latency percentiles,
/// state size and heap allocations per reading, for each detector alone and for the full suite.
public struct DetectorBenchmark {
    public struct Row: Sendable {
        public var name: String
        public var readingsPerSecond: Double
        public var p50: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        /// Heap allocations per reading in the measured pass (nil when not counted).
        public var allocationsPerReading: Double?
        /// Events emitted during the measured pass (event emission may allocate).
        public var events: Int
        /// Heap allocations during readings that emitted no event, in the latency pass (nil when not counted).
        public var allocationsWithoutEvents: UInt64?
        /// Readings in the latency pass that emitted no event.
        public var readingsWithoutEvents: Int = 0
        /// What the detector found by itself (seasons, sensor pairs), where it had to.
        public var found = ""
    }

    public let catalog: Catalog
    public let readings: Int
    /// Reading counts to warm up before measuring.
    public let warmUp: Int

    /// Optional allocation counter: switch on/off, read the count.
    public var allocationCounter: (setCounting: @Sendable (Bool) -> Void, count: @Sendable () -> UInt64)?

    public init(catalog: Catalog, readings: Int = 2_000_000, warmUp: Int = 200_000) {
        self.catalog = catalog
        self.readings = max(readings, 1000)
        self.warmUp = max(warmUp, 0)
    }

    /// The detector configurations measured: each detector alone (the others switched off), then all.
    public static let detectorNames = [
        "limits", "spike", "level_shift", "volatility_shift", "drift", "stuck", "silence", "seasonal", "correlation",
    ]

    func catalog(only name: String?) -> Catalog {
        var sensors = catalog.sensors
        for i in sensors.indices {
            if let name {
                for other in Self.detectorNames {
                    var tuning = sensors[i].detectors[other] ?? DetectorTuning()
                    tuning.enabled = other == name
                    sensors[i].detectors[other] = tuning
                }
            }
            if name == nil || name == "seasonal" {
                var tuning = sensors[i].detectors["seasonal"] ?? DetectorTuning()
                if tuning.parameters["period"] == nil { tuning.parameters["period"] = 3600 }
                sensors[i].detectors["seasonal"] = tuning
            }
        }
        return Catalog(plant: catalog.plant, site: catalog.site, assets: catalog.assets, sensors: sensors)
    }

    /// The full suite as the plant would run it with a bare catalog: no season configured (each sensor's is
    /// searched for, and found in the synthetic wave) and no related sensors (pairs discovered per asset).
    func discoveringCatalog() -> Catalog {
        var sensors = catalog.sensors
        for i in sensors.indices {
            sensors[i].related = []
            sensors[i].detectors["seasonal"]?.parameters["period"] = nil
        }
        return Catalog(plant: catalog.plant, site: catalog.site, assets: catalog.assets, sensors: sensors)
    }

    /// Synthetic readings in arrival order: every sensor at its period, a slow daily-ish wave plus noise.
    struct Stream {
        var sensor: [Int]
        var time: [Int64]
        var value: [Double]
    }

    func makeStream(count: Int) -> Stream {
        let sensors = catalog.sensors
        var next = sensors.map { _ in Int64(1_700_000_000_000) }
        let periods = sensors.map { Int64(max($0.samplePeriod, 0.1) * 1000) }
        var stream = Stream(sensor: [], time: [], value: [])
        stream.sensor.reserveCapacity(count); stream.time.reserveCapacity(count); stream.value.reserveCapacity(count)
        var rng: UInt64 = 0x1234_5678_9ABC_DEF1
        func gaussian() -> Double {
            func u() -> Double {
                rng &+= 0x9E37_79B9_7F4A_7C15
                var z = rng
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
            }
            return (-2 * Foundation.log(max(u(), 1e-300))).squareRoot() * Foundation.cos(2 * .pi * u())
        }
        for _ in 0..<count {
            // The sensor due next.
            var i = 0
            for k in 1..<sensors.count where next[k] < next[i] { i = k }
            let t = next[i]
            next[i] += periods[i]
            let low = sensors[i].limits.low ?? 0, high = sensors[i].limits.high ?? 100
            let mid = (low + high) / 2, span = (high - low) / 20
            let wave = Foundation.sin(Double(t % 3_600_000) / 3_600_000 * 2 * .pi)
            stream.sensor.append(i)
            stream.time.append(t)
            stream.value.append(mid + span * (0.5 * wave + 0.2 * gaussian()))
        }
        return stream
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public func run(progress: (String) -> Void = { _ in }) -> (rows: [Row], stateBytesPerSensor: Int) {
        let stream = makeStream(count: warmUp + readings)
        var rows: [Row] = []
        var stateBytes = 0
        let configurations: [(name: String, catalog: Catalog)] =
            Self.detectorNames.map { ($0, catalog(only: $0)) }
            + [("full suite", catalog(only: nil)), ("suite, discovered", discoveringCatalog())]
        for (name, configuredCatalog) in configurations {
            let detector = PlantDetector(catalog: configuredCatalog)
            var events: [AnomalyEvent] = []
            events.reserveCapacity(1024)
            for k in 0..<warmUp {
                _ = detector.ingest(sensor: stream.sensor[k], timestamp: stream.time[k], value: stream.value[k], events: &events)
                if events.count > 512 { events.removeAll(keepingCapacity: true) }
            }
            events.removeAll(keepingCapacity: true)

            // Throughput pass (allocations counted here).
            let half = readings / 2
            allocationCounter?.setCounting(true)
            let before = allocationCounter?.count() ?? 0
            // CPU time of this thread: on a shared machine wall time would count other processes' turns.
            let start = Self.threadCPUSeconds()
            var sink = 0.0
            for k in warmUp..<(warmUp + half) {
                sink += detector.ingest(sensor: stream.sensor[k], timestamp: stream.time[k], value: stream.value[k], events: &events)
            }
            let elapsed = max(Self.threadCPUSeconds() - start, 1e-9)
            let allocations = (allocationCounter?.count() ?? 0) - before
            allocationCounter?.setCounting(false)
            let emitted = events.count
            events.removeAll(keepingCapacity: true)

            // Latency pass: each reading timed alone, the timer's own cost subtracted.
            var latencies = [UInt32](repeating: 0, count: readings - half)
            var overhead = [UInt64](repeating: 0, count: 1001)
            for k in overhead.indices {
                let a = DispatchTime.now().uptimeNanoseconds
                overhead[k] = DispatchTime.now().uptimeNanoseconds - a
            }
            overhead.sort()
            let timerCost = overhead[overhead.count / 2]
            var quietAllocations: UInt64 = 0
            var quietReadings = 0
            allocationCounter?.setCounting(true)
            for (n, k) in ((warmUp + half)..<(warmUp + readings)).enumerated() {
                if events.count > 512 { events.removeAll(keepingCapacity: true) }
                let emittedBefore = events.count
                let allocationsBefore = allocationCounter?.count() ?? 0
                let a = DispatchTime.now().uptimeNanoseconds
                sink += detector.ingest(sensor: stream.sensor[k], timestamp: stream.time[k], value: stream.value[k], events: &events)
                let d = DispatchTime.now().uptimeNanoseconds - a
                latencies[n] = UInt32(clamping: d > timerCost ? d - timerCost : 0)
                if events.count == emittedBefore {
                    quietReadings += 1
                    quietAllocations += (allocationCounter?.count() ?? 0) - allocationsBefore
                }
            }
            allocationCounter?.setCounting(false)
            latencies.sort()
            func percentile(_ p: Double) -> Double {
                Double(latencies[min(Int(Double(latencies.count) * p), latencies.count - 1)]) / 1000
            }
            let row = Row(
                name: name, readingsPerSecond: Double(half) / elapsed,
                p50: percentile(0.5), p99: percentile(0.99), p999: percentile(0.999),
                max: Double(latencies.last ?? 0) / 1000,
                allocationsPerReading: allocationCounter == nil ? nil : Double(allocations) / Double(half),
                events: emitted, allocationsWithoutEvents: allocationCounter == nil ? nil : quietAllocations,
                readingsWithoutEvents: quietReadings)
            var measured = row
            if name == "suite, discovered" {
                let sensors = configuredCatalog.sensors.indices
                let seasons = sensors.filter { detector.isSeasonDetected(sensor: $0) }.count
                let pairs = sensors.reduce(0) { $0 + detector.partners(sensor: $1).count } / 2
                measured.found = "\(seasons) of \(sensors.count) seasons found, \(pairs) sensor pairs discovered"
            }
            rows.append(measured)
            if sink.isNaN { progress("") }
            progress(String(format: "%@: %.0f readings/s", row.name, row.readingsPerSecond))
            if name.hasPrefix("suite") || name == "full suite" { stateBytes = max(stateBytes, detector.stateBytesPerSensor) }
        }
        return (rows, stateBytes)
    }
}

extension DetectorBenchmark {
    /// The costliest steps of the season search (see `SeasonSearchCost.worstSteps`).
    public static func seasonSearchWorstSteps(calls: Int = 200_000) -> (sweepStep: Double, compaction: Double) {
        SeasonSearchCost.worstSteps(calls: calls, cpuSeconds: threadCPUSeconds)
    }
}
