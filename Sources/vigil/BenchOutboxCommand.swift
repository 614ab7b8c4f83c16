import Agent
import ArgumentParser
import Foundation
import Logging
import MQTT
import Outbox
import VigilSupport

/// `vigil bench outbox`: durable enqueue rates, and draining to a real MQTT broker through the
/// agent's `MQTTOutboxTransport` (a local mosquitto started on a free port, or `--broker`).
struct BenchOutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Measure the outbox: durable enqueue rate and drain rate to an MQTT broker."
    )

    @Option(help: ArgumentHelp("Folder for the benchmark databases (default: a new folder under /tmp).", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("Events in the backlog drained to the broker.", valueName: "n"))
    var events = 100_000

    @Option(help: ArgumentHelp("Drain to this broker instead of a local mosquitto on a free port: \(BrokerOption.grammar).", valueName: "url"),
            transform: BrokerOption.parse)
    var broker: MQTTConfiguration?

    @Option(help: ArgumentHelp("Runs of each measurement; medians are printed.", valueName: "n"))
    var repetitions = 3

    @Option(help: ArgumentHelp("Concurrent producers for the concurrent enqueue rate.", valueName: "n"))
    var producers = 16

    @Option(help: ArgumentHelp("Payload bytes of each event.", valueName: "bytes"))
    var payloadBytes = 256

    func validate() throws {
        guard events >= 1, repetitions >= 1, producers >= 1, payloadBytes >= 2 else {
            throw ValidationError("--events, --repetitions, --producers must be at least 1 and --payload-bytes at least 2")
        }
    }

    func run() async throws {
        var logger = Logger(label: "vigil.bench.outbox")
        logger.logLevel = .error
        let folder: String
        var madeFolder = false
        if let dir {
            folder = dir
        } else {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bench-outbox-\(getpid())").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            madeFolder = true
        }
        defer { if madeFolder { try? FileManager.default.removeItem(atPath: folder) } }

        var local: LocalMosquitto?
        let mqtt: MQTTConfiguration
        if let broker {
            mqtt = broker
        } else {
            local = try LocalMosquitto(folder: folder)
            mqtt = MQTTConfiguration(host: "127.0.0.1", port: local?.port ?? 0)
        }
        defer { local?.stop() }

        let body = [UInt8]("{\"bench\":\"".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: max(payloadBytes - 12, 0))
            + [UInt8]("\"}".utf8)
        var sequential: [Double] = []
        var concurrent: [Double] = []
        var drainRates: [Double] = []
        var drainSeconds: [Double] = []
        let clock = ContinuousClock()
        Self.say("outbox benchmark: \(repetitions) runs, payload \(body.count) B, backlog \(events) events, broker \(broker?.brokerURL ?? "local mosquitto \(mqtt.host):\(mqtt.port)"), databases in \(folder)")
        for run in 0..<repetitions {
            let path = "\(folder)/outbox-bench-\(getpid())-\(run).db"
            defer { for extra in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + extra) } }
            let outbox = try await Outbox.open(configuration: OutboxConfiguration(path: path), logger: logger)

            Self.progress("run \(run + 1): durable enqueue, 1 producer")
            // Durable enqueue, one producer awaiting each commit.
            let single = min(500, events)
            var start = clock.now
            for _ in 0..<single { try await outbox.enqueue(topic: "vigil/bench/events", payload: body) }
            sequential.append(Double(single) / ((clock.now - start) / .seconds(1)))

            Self.progress("run \(run + 1): durable enqueue, \(producers) producers")
            // Durable enqueue, concurrent producers sharing group commits.
            let shared = min(5000, max(events - single, producers))
            start = clock.now
            try await Self.enqueue(outbox, count: shared, producers: producers, body: body)
            concurrent.append(Double(shared) / ((clock.now - start) / .seconds(1)))

            Self.progress("run \(run + 1): filling the backlog")
            // Fill the backlog, then drain it to the broker with the link up from the start.
            let missing = events - (await outbox.statistics().depth)
            if missing > 0 { try await Self.enqueue(outbox, count: missing, producers: 64, body: body) }
            let backlog = await outbox.statistics().depth
            Self.progress("run \(run + 1): draining \(backlog) events to the broker")
            let client = try MQTTClient(configuration: mqtt, logger: logger)
            try await client.connect()
            let (links, link) = AsyncStream<Bool>.makeStream()
            link.yield(true)
            start = clock.now
            let drainer = Task { await outbox.run(transport: MQTTOutboxTransport(client: client), linkStates: links) }
            while await outbox.statistics().depth > 0 {
                try await Task.sleep(for: .milliseconds(5))
            }
            let elapsed = ((clock.now - start) / .seconds(1))
            drainer.cancel()
            await drainer.value
            link.finish()
            await client.disconnect()
            let statistics = await outbox.statistics()
            await outbox.close()
            drainRates.append(Double(backlog) / elapsed)
            drainSeconds.append(elapsed)
            Self.say(String(format: "  run %d: enqueue %.0f/s (1 producer), %.0f/s (%d producers); drained %d events in %.2f s (%.0f/s), %llu send failures",
                         run + 1, sequential.last ?? 0, concurrent.last ?? 0, producers, backlog, elapsed,
                         drainRates.last ?? 0, statistics.sendFailures))
        }
        Self.say(String(format: """
            medians of %d runs:
              durable enqueue, 1 producer:         %.0f events/s
              durable enqueue, %2d producers:       %.0f events/s
              drain to the broker (MQTT QoS 1):    %.0f events/s
              drain a backlog of %d events:    %.2f s
            """, repetitions, median(sequential), producers, median(concurrent), median(drainRates), events,
            median(drainSeconds)))
    }

    /// Standard output, unbuffered: the figures show up even if the run is cut short.
    private static func say(_ text: String) {
        FileHandle.standardOutput.write(Data("\(text)\n".utf8))
    }

    private static func progress(_ text: String) {
        FileHandle.standardError.write(Data("\(text)\n".utf8))
    }

    private static func enqueue(_ outbox: Outbox, count: Int, producers: Int, body: [UInt8]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                let share = count / producers + (producer < count % producers ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { try await outbox.enqueue(topic: "vigil/bench/events", payload: body) }
                }
            }
            try await group.waitForAll()
        }
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}


/// A mosquitto started on a free loopback port for the benchmark, stopped by `stop()`.
private final class LocalMosquitto {
    let port: Int
    private let process = Process()

    init(folder: String) throws {
        let executable = ProcessInfo.processInfo.environment["VIGIL_MOSQUITTO"] ?? "/usr/sbin/mosquitto"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("\(executable) is not installed (apt-get install mosquitto), or give --broker")
        }
        port = try LoopbackPort.free()
        var lines = ["listener \(port) 127.0.0.1", "allow_anonymous true", "persistence false", "log_dest none",
                     "max_queued_messages 1000000"]
        if geteuid() == 0 { lines.append("user root") }
        let configuration = "\(folder)/mosquitto-bench-\(getpid()).conf"
        try (lines.joined(separator: "\n") + "\n").write(toFile: configuration, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", configuration]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !LoopbackPort.accepts(port) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw ValidationError("mosquitto did not start listening on 127.0.0.1:\(port)")
            }
            usleep(10_000)
        }
    }

    /// SIGKILL: nothing of the broker is kept, and a child started by Foundation's `Process`
    /// may have SIGTERM blocked (it inherits the spawning thread's signal mask).
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
