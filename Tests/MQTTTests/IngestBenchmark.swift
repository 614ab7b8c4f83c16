import Foundation
import MQTT
import Testing
import VigilTestSupport

/// Raw ingest throughput: how fast this client drains a backlog of small QoS 0 JSON messages
/// from a local mosquitto, against `mosquitto_sub` draining the same backlog.
///
/// Off by default (timings belong in benchmarks, not in the test run):
///
///     VIGIL_BENCHMARK=1 swift test -c release --filter IngestBenchmark
///
/// Method: a persistent session subscribes and goes offline; mosquitto_pub publishes N
/// messages (the broker queues them: queue_qos0_messages); the subscriber reconnects and the
/// time from connect to the N-th message is measured. mosquitto_sub is timed as a whole
/// process (start, connect, drain, exit; it prints every payload, here to /dev/null, with a
/// flush per message), the Swift client from `connect()` to the N-th message taken from
/// `messages`. Runs alternate; medians are printed.
///
/// Measured 2026-11-21 on the shared 2-core machine (load average 6-10), 200,000 messages,
/// 10 runs each: mosquitto_sub median ≈ 54,000 msg/s, MQTTClient median ≈ 77,000 msg/s
/// (ratio ≈ 1.4; before read bursts the ratio was ≈ 0.9).
@Suite("Ingest benchmark", .enabled(if: ProcessInfo.processInfo.environment["VIGIL_BENCHMARK"] != nil))
struct IngestBenchmark {
    @Test("drain throughput vs mosquitto_sub")
    func drainThroughput() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["VIGIL_BENCHMARK_MESSAGES"].flatMap(Int.init) ?? 200_000
        let runs = environment["VIGIL_BENCHMARK_RUNS"].flatMap(Int.init) ?? 5
        guard MosquittoClients.path("mosquitto_sub") != nil, MosquittoClients.path("mosquitto_pub") != nil else { return }
        guard let broker = try startBroker(.init(extraConfiguration: ["queue_qos0_messages true", "max_queued_messages 0"])) else { return }

        let directory = try TemporaryDirectory(prefix: "vigil-bench")
        var lines = ""
        lines.reserveCapacity(count * 64)
        for index in 0..<count {
            let value = 20 + Double(index % 1000) / 100
            lines += "{\"ts\":\(1_732_200_000_000 + index * 100),\"value\":\(value),\"quality\":\"good\"}\n"
        }
        let payloads = try directory.write(lines, to: "payloads.jsonl")
        let port = "\(broker.port)"

        func publishBacklog() throws {
            try MosquittoClients.run("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-t", "bench/press-1/temp", "-q", "0", "-l"], inputFile: payloads)
        }

        var subRates: [Double] = []
        var swiftRates: [Double] = []
        var swiftSmallBufferDrops: [Int] = []
        let swiftConfiguration: (Int) -> MQTTConfiguration = { capacity in
            var config = MQTTConfiguration(host: broker.host, port: broker.port, clientID: "bench-swift", keepAlive: .seconds(30), cleanSession: false)
            config.inboundBufferCapacity = capacity
            return config
        }

        // Register both persistent sessions.
        try MosquittoClients.run("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-i", "bench-sub", "-c", "-q", "0", "-t", "bench/#", "-E"])
        let register = try MQTTClient(configuration: swiftConfiguration(count), logger: testLogger())
        try await register.connect()
        try await register.subscribe("bench/#", qos: .atMostOnce)
        await register.disconnect()
        // Both sessions now queue what is published; drain once to start from empty.
        try publishBacklog()
        try MosquittoClients.run("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-i", "bench-sub", "-c", "-q", "0", "-t", "bench/#", "-C", "\(count)"])
        _ = try await drainSwift(swiftConfiguration(count), count: count, brokerLog: { broker.log })

        for _ in 0..<runs {
            try publishBacklog()   // queued for both sessions
            let subTime = try MosquittoClients.run(
                "mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-i", "bench-sub", "-c", "-q", "0", "-t", "bench/#", "-C", "\(count)"],
                discardOutput: true
            )
            subRates.append(Double(count) / subTime.secondsDouble)
            let (swiftTime, dropped) = try await drainSwift(swiftConfiguration(count), count: count, brokerLog: { broker.log })
            #expect(dropped == 0)
            swiftRates.append(Double(count) / swiftTime.secondsDouble)
        }
        // The default buffer (10,000) with a consumer that only counts: does it keep up?
        for _ in 0..<runs {
            try publishBacklog()
            try MosquittoClients.run("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-i", "bench-sub", "-c", "-q", "0", "-t", "bench/#", "-C", "\(count)"])
            let (_, dropped) = try await drainSwift(swiftConfiguration(10_000), count: count, tolerateDrops: true, brokerLog: { broker.log })
            swiftSmallBufferDrops.append(dropped)
        }

        let subMedian = median(subRates)
        let swiftMedian = median(swiftRates)
        print("""
            INGEST BENCHMARK (\(count) QoS 0 JSON messages of ~55 bytes, \(runs) runs, local mosquitto 2.0.11)
              mosquitto_sub drain: median \(Int(subMedian)) msg/s  runs \(subRates.map { Int($0) })
              MQTTClient drain:    median \(Int(swiftMedian)) msg/s  runs \(swiftRates.map { Int($0) })
              ratio MQTTClient / mosquitto_sub: \(String(format: "%.2f", swiftMedian / subMedian))
              MQTTClient with the default 10,000-message buffer: dropped per run \(swiftSmallBufferDrops)
            """)
    }

    /// Connects the persistent session and times connect → N-th message.
    private func drainSwift(
        _ configuration: MQTTConfiguration, count: Int, tolerateDrops: Bool = false,
        brokerLog: () -> String = { "" }
    ) async throws -> (Duration, Int) {
        let client = try MQTTClient(configuration: configuration, logger: testLogger())
        let clock = ContinuousClock()
        let stream = client.messages
        let start = clock.now
        let consumer = Task { () -> Int in
            var received = 0
            for await message in stream {
                received += 1
                _ = message.payload.count
                if received == count { break }
            }
            return received
        }
        do {
            try await client.connect()
        } catch {
            print("BENCHMARK CONNECT FAILED: \(error)\nbroker log tail:\n\(brokerLog().suffix(3000))")
            throw error
        }
        let received: Int
        if tolerateDrops {
            // With drops the stream never reaches N: wait for the broker's last message instead.
            try await eventually(60, "the backlog") { client.statistics.received >= count }
            consumer.cancel()
            received = await consumer.value
        } else {
            received = try await within(120, "the backlog") { await consumer.value }
        }
        let elapsed = start.duration(to: clock.now)
        let dropped = client.statistics.dropped
        await client.disconnect()
        if !tolerateDrops { #expect(received == count) }
        return (elapsed, dropped)
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension Duration {
    var secondsDouble: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
