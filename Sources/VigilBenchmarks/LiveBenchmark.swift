import Agent
import Foundation
import Logging
import MQTT
import Synchronization
import Telemetry

/// `vigil bench live`: the agent in this process against a real broker, measured from outside —
/// ingest throughput beside a plain subscriber on the same stream, and reading-to-alert latency
/// through the broker on the detection path (template narration, so the model's time is not counted).
public struct LiveBenchmark {
    public var broker: MQTTConfiguration
    public var catalogPath: String
    public var readings = 200_000
    public var latencySamples = 300
    /// In-range readings after a sensor's last event resolved before it is breached again: more than
    /// the detector's cooldown (`cooldownReadings`, 20).
    static let quietReadings = 30
    /// Readings of other sensors published right before each breach.
    static let backgroundReadings = 5

    public init(broker: MQTTConfiguration, catalogPath: String) {
        self.broker = broker
        self.catalogPath = catalogPath
    }

    public struct Figures: Sendable {
        public var published: Int
        public var agentIngested: Int
        public var subscriberReceived: Int
        public var publishSeconds: Double
        public var latenciesMs: [Double]
        /// Out-of-range readings whose alert did not arrive within 2 s.
        public var missedAlerts: Int
        public var peakRSSKiB: Int
    }

    public func run(logger: Logger) async throws -> Figures {
        let catalog = try Catalog.load(file: catalogPath)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let url = broker.brokerURL
        let yaml = """
            agent: {name: bench, catalog: \(catalogPath), state_dir: \(state)}
            local: {url: "\(url)"}
            ingest: {max_future_skew: 3650d, max_age: 3650d}
            narration: {enabled: false}
            metrics: {enabled: false}
            """
        let configuration = try AgentConfiguration.parse(yaml: yaml, file: state + "/vigil.yaml")
        var quiet = logger
        quiet.logLevel = .error
        let agent = LiveAgent(configuration: configuration, catalog: catalog, model: nil, logger: quiet)
        let group = try await agent.makeServiceGroup(signals: false)
        let running = Task { try await group.run() }
        defer { running.cancel() }

        // A plain subscriber on the same topics: the reference for "keeps up".
        var plainConfig = broker
        plainConfig.clientID = "bench-plain-\(getpid())"
        plainConfig.inboundBufferCapacity = readings + 10_000
        let plain = try MQTTClient(configuration: plainConfig, logger: quiet)
        try await plain.connect()
        for s in catalog.sensors { try await plain.subscribe(s.topic, qos: .atMostOnce) }
        let plainCount = Task { () -> Int in
            var n = 0
            for await _ in plain.messages { n += 1 }
            return n
        }
        var feederConfig = broker
        feederConfig.clientID = "bench-feeder-\(getpid())"
        let feeder = try MQTTClient(configuration: feederConfig, logger: quiet)
        try await feeder.connect()
        try await Task.sleep(for: .seconds(2))  // the agent connects and subscribes

        // 1. Throughput: normal readings on every sensor, QoS 0, as fast as the feeder can.
        let t0 = Int64(Date().timeIntervalSince1970 * 1000)
        let payloads = catalog.sensors.map { s in (s.topic, ((s.limits.low ?? 0) + (s.limits.high ?? 100)) / 2) }
        let started = ContinuousClock.now
        for i in 0..<readings {
            let (topic, mid) = payloads[i % payloads.count]
            let ts = t0 + Int64(i / payloads.count) * 1000
            let value = mid * (1 + 0.01 * Double((i * 7919) % 13 - 6) / 6)
            try await feeder.publish(topic: topic, payload: Array("{\"ts\":\(ts),\"value\":\(value)}".utf8), qos: .atMostOnce)
        }
        let publishSeconds = (ContinuousClock.now - started) / .seconds(1)
        try await Task.sleep(for: .seconds(3))
        let ingested = agent.ingestedReadings
        await plain.disconnect()
        let plainReceived = await plainCount.value

        // 2. Latency: one out-of-range reading on a warmed-up sensor, timed until its alert arrives.
        // A limit breach opens its event on that very reading (no confirmation over further readings,
        // unlike a spike, which waits one reading to tell a lone outlier from a shift), so the time is
        // the whole detection path: feeder → broker → agent (decode, detect) → alert publish →
        // broker → subscriber. Between samples, varying in-range readings resolve the event and run
        // out the detector's cooldown (checked on the agent's detector), so every sample opens a fresh event.
        var observerConfig = broker
        observerConfig.clientID = "bench-observer-\(getpid())"
        let observer = try MQTTClient(configuration: observerConfig, logger: quiet)
        try await observer.connect()
        try await observer.subscribe("vigil/bench/alerts/#", qos: .atLeastOnce)
        var latencies: [Double] = []
        var missed = 0
        let arrivals = AlertArrivals()
        let consumer = Task {
            for await message in observer.messages {
                guard let text = String(validating: message.payload, as: UTF8.self),
                      text.contains("\"stage\":\"opened\""), text.contains("\"kind\":\"out_of_range\"") else { continue }
                arrivals.arrived(topic: message.topic, at: .now)
            }
        }
        var ts = t0 + Int64(readings / payloads.count + 10) * 1000
        let sensorsWithLimits = catalog.sensors.filter { $0.limits.high != nil }
        var expected = agent.ingestedReadings
        var q = 0
        for k in 0..<latencySamples {
            let sensor = sensorsWithLimits[k % sensorsWithLimits.count]
            let index = catalog.indexByTopic[sensor.topic] ?? -1
            let high = sensor.limits.high ?? 100
            let normal = ((sensor.limits.low ?? 0) + high) / 2
            // In-range readings like those of the throughput phase, until the sensor's last event has
            // resolved and its cooldown has passed (a breach during an open event opens nothing new).
            var quietSent = 0
            var sinceNormal = 0
            while quietSent < 600 && sinceNormal < Self.quietReadings {
                for _ in 0..<10 {
                    ts += 1000
                    q += 1
                    let value = normal * (1 + 0.01 * Double((q * 7919) % 13 - 6) / 6)
                    try await feeder.publish(topic: sensor.topic, payload: Array("{\"ts\":\(ts),\"value\":\(value)}".utf8), qos: .atMostOnce)
                }
                quietSent += 10
                expected += 10
                let settled = ContinuousClock.now + .seconds(2)
                while agent.ingestedReadings < expected && ContinuousClock.now < settled {
                    try await Task.sleep(for: .milliseconds(1))
                }
                expected = agent.ingestedReadings
                sinceNormal = agent.isAbnormal(sensor: index) ? 0 : sinceNormal + 10
            }
            try await Task.sleep(for: .milliseconds(5))
            let topic = "vigil/bench/alerts/\(sensor.asset)/\(sensor.id.rawValue)"
            arrivals.expect(topic)
            // Other sensors keep publishing, as in a plant: a few readings just before the breach, so
            // that it follows data still in flight on every hop (where Nagle's algorithm would hold it).
            for b in 1...Self.backgroundReadings {
                let other = catalog.sensors[(index + b) % catalog.sensors.count]
                let mid = ((other.limits.low ?? 0) + (other.limits.high ?? 100)) / 2
                q += 1
                let value = mid * (1 + 0.01 * Double((q * 7919) % 13 - 6) / 6)
                try await feeder.publish(topic: other.topic, payload: Array("{\"ts\":\(ts),\"value\":\(value)}".utf8), qos: .atMostOnce)
                expected += 1
            }
            ts += 1000
            let payload = Array("{\"ts\":\(ts),\"value\":\(high + max(abs(high), 10) * 2)}".utf8)
            let sent = ContinuousClock.now
            try await feeder.publish(topic: sensor.topic, payload: payload, qos: .atMostOnce)
            expected += 1
            let deadline = sent + .seconds(2)
            var arrived: ContinuousClock.Instant?
            while ContinuousClock.now < deadline {
                arrived = arrivals.arrival(topic)
                if arrived != nil { break }
                try await Task.sleep(for: .microseconds(200))
            }
            if let arrived {
                latencies.append((arrived - sent) / .milliseconds(1))
            } else {
                missed += 1
            }
        }
        consumer.cancel()
        await observer.disconnect()
        await feeder.disconnect()
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return Figures(published: readings, agentIngested: ingested, subscriberReceived: plainReceived,
                       publishSeconds: publishSeconds, latenciesMs: latencies, missedAlerts: missed,
                       peakRSSKiB: peakResidentKiB())
    }
}

/// The process's peak resident set (VmHWM), in KiB.
public func peakResidentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }
    return 0
}

/// When the awaited alert arrived (set by the subscriber's task, read by the timing loop).
final class AlertArrivals: Sendable {
    private let state = Mutex<(topic: String?, at: ContinuousClock.Instant?)>((nil, nil))

    func expect(_ topic: String) { state.withLock { $0 = (topic, nil) } }

    func arrived(topic: String, at instant: ContinuousClock.Instant) {
        state.withLock { s in if s.topic == topic && s.at == nil { s.at = instant } }
    }

    func arrival(_ topic: String) -> ContinuousClock.Instant? {
        state.withLock { $0.topic == topic ? $0.at : nil }
    }
}

