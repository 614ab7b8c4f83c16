import Agent
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MQTT
import ServiceLifecycle
import Telemetry
import Testing
import VigilTestSupport

/// `vigil run` stopped gracefully and started again against a real mosquitto: the detector's learned
/// state is saved on shutdown and restored at start, so the second run alerts with no warm-up.
@Suite struct DeployRestartTests {
    let catalog: Catalog

    init() throws {
        catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
    }

    /// The value of an unlabelled sample in the agent's metrics.
    func sample(_ agent: LiveAgent, _ name: String) -> Double? {
        let line = exposition(agent).split(separator: "\n").first { $0.hasPrefix("\(name) ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    func sample(_ run: Run, _ name: String) -> Double? { sample(run.agent, name) }

    /// The agent's metrics in Prometheus' text format, as /metrics serves them.
    func exposition(_ agent: LiveAgent) -> String {
        var buffer: [UInt8] = []
        agent.registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// The first message `accept` takes, or nil after `seconds`.
    func firstMessage(_ client: MQTTClient, seconds: Double, _ accept: @escaping @Sendable (MQTTMessage) -> Bool) async -> MQTTMessage? {
        await withTaskGroup(of: MQTTMessage?.self) { group in
            group.addTask {
                for await m in client.messages where accept(m) { return m }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return nil
            }
            let found = await group.next() ?? nil
            group.cancelAll()
            return found
        }
    }

    struct Run {
        let agent: LiveAgent
        let group: ServiceGroup
        let task: Task<Void, any Error>

        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }
    }

    func start(_ configuration: AgentConfiguration) async throws -> Run {
        var logger = Logger(label: "restart-test")
        logger.logLevel = .warning
        let agent = LiveAgent(configuration: configuration, catalog: catalog, model: nil, registry: nil, logger: logger)
        let group = try await agent.makeServiceGroup(signals: false)
        return Run(agent: agent, group: group, task: Task { try await group.run() })
    }

    @Test(.timeLimit(.minutes(2))) func detectorStateSurvivesAGracefulRestart() async throws {
        guard MosquittoBroker.isAvailable else { return }
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-restart")
        defer { directory.remove() }
        let yaml = """
            agent: {name: test, catalog: \(RepositoryPaths.file("sensors/plant.yaml")), state_dir: \(directory.path)}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            ingest: {max_future_skew: 30d}
            narration: {enabled: false}
            detector: {save_interval: 0}
            metrics: {enabled: false}
            """
        let configuration = try AgentConfiguration.parse(yaml: yaml, file: directory.file("vigil.yaml").path)
        let stateFile = directory.file("detector.state").path

        let feeder = try MQTTClient(configuration: MQTTConfiguration(
            host: broker.host, port: broker.port, clientID: "feeder", reconnectDelay: .init(min: .milliseconds(100), max: .milliseconds(500))))
        try await feeder.connect()
        let observer = try MQTTClient(configuration: MQTTConfiguration(
            host: broker.host, port: broker.port, clientID: "observer", reconnectDelay: .init(min: .milliseconds(100), max: .milliseconds(500))))
        try await observer.connect()
        try await observer.subscribe("vigil/test/alerts/#", qos: .atLeastOnce)
        let topic = try #require(catalog.sensor("pump1.flow")).topic
        // Readings two seconds apart; the last normal one a little ahead of the wall clock, so that no
        // silence opens while the test runs.
        let base = Int64(Date().timeIntervalSince1970 * 1000) - 400 * 2000 + 30_000
        func publish(_ k: Int, shift: Double = 0) async throws {
            let value = 100 + 0.8 * sin(Double(k) * 0.9) + 0.4 * sin(Double(k) * 2.3) + shift
            let payload = "{\"ts\":\(base + Int64(k) * 2000),\"value\":\(value)}"
            try await feeder.publish(topic: topic, payload: Array(payload.utf8), qos: .atLeastOnce)
        }
        /// Publishes reading `k` until the agent has taken one in (it subscribes after it starts).
        func untilSubscribed(_ run: Run, _ k: Int) async throws {
            for _ in 0..<100 where run.agent.ingestedReadings == 0 {
                try await publish(k)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(run.agent.ingestedReadings > 0, "the agent never took a reading in")
        }

        // First run: no saved state; 420 normal readings teach the detector pump1.flow's baseline.
        let first = try await start(configuration)
        #expect(sample(first, "vigil_detector_state_restored") == 0)
        try await untilSubscribed(first, 0)
        for k in 1..<420 { try await publish(k) }
        for _ in 0..<200 where first.agent.ingestedReadings < 420 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(first.agent.ingestedReadings >= 420)
        #expect(!FileManager.default.fileExists(atPath: stateFile), "saved before the shutdown with save_interval 0")
        try await first.stop()
        // The graceful shutdown saved the state.
        let saved = try #require(FileManager.default.attributesOfItem(atPath: stateFile)[.size] as? Int)
        #expect(saved > 1000)
        #expect(sample(first, "vigil_detector_state_saves_total") == 1)

        // Second run: restored at start, so a level shift right away is an alert (a fresh detector would
        // still be learning: it needs 300 readings).
        let second = try await start(configuration)
        #expect(sample(second, "vigil_detector_state_restored") == 1)
        try await untilSubscribed(second, 420)
        for k in 421..<450 { try await publish(k, shift: k >= 425 ? 30 : 0) }
        let alert = await firstMessage(observer, seconds: 20) { message in
            let text = String(decoding: message.payload, as: UTF8.self)
            return message.topic == "vigil/test/alerts/pump1/pump1.flow" && text.contains("\"stage\":\"opened\"")
                && !text.contains("\"kind\":\"silence\"")
        }
        #expect(alert != nil, "no alert from the restored detector")
        #expect(second.agent.ingestedReadings < 300, "the test must stay below a fresh warm-up")

        // The detection latency histogram has microsecond buckets.
        let buckets = exposition(second.agent).split(separator: "\n")
            .filter { $0.hasPrefix("vigil_detection_latency_seconds_bucket{le=\"") }
            .compactMap { line -> Double? in
                let le = line.split(separator: "\"")[1]
                return le == "+Inf" ? nil : Double(le)
            }
        #expect(buckets.count >= 10)
        #expect((buckets.min() ?? 1) <= 0.000_001 + 1e-12)
        #expect((buckets.max() ?? 0) <= 0.01 + 1e-12)

        try await second.stop()
        await feeder.disconnect()
        await observer.disconnect()
    }

    @Test(.timeLimit(.minutes(3))) func theStateIsSavedPeriodicallyOnlyWhenSomethingWasLearned() async throws {
        guard MosquittoBroker.isAvailable else { return }
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-periodic")
        defer { directory.remove() }
        let configuration = try AgentConfiguration.parse(yaml: """
            agent: {name: test, catalog: \(RepositoryPaths.file("sensors/plant.yaml")), state_dir: \(directory.path)}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            ingest: {max_future_skew: 30d}
            narration: {enabled: false}
            detector: {save_interval: 1s}
            metrics: {enabled: false}
            """, file: directory.file("vigil.yaml").path)
        let stateFile = directory.file("detector.state").path
        let feeder = try MQTTClient(configuration: MQTTConfiguration(
            host: broker.host, port: broker.port, clientID: "feeder", reconnectDelay: .init(min: .milliseconds(100), max: .milliseconds(500))))
        try await feeder.connect()
        let topic = try #require(catalog.sensor("pump2.flow")).topic
        let base = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
        var k = 0
        func publish() async throws {
            k += 1
            try await feeder.publish(topic: topic, payload: Array("{\"ts\":\(base + Int64(k) * 2000),\"value\":\(100 + k % 3)}".utf8),
                                     qos: .atLeastOnce)
        }

        let run = try await start(configuration)
        for _ in 0..<100 where run.agent.ingestedReadings == 0 {
            try await publish()
            try await Task.sleep(for: .milliseconds(100))
        }
        for _ in 0..<50 { try await publish() }
        // Saved while running, with no shutdown.
        for _ in 0..<100 where (sample(run, "vigil_detector_state_saves_total") ?? 0) < 1 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(FileManager.default.fileExists(atPath: stateFile))
        // Wait for the saves to settle (the last readings saved; a slow machine may take a while), then
        // nothing new: several intervals pass without a write.
        // Settled: unchanged over two windows in a row (one quiet window can be a busy machine's pause).
        var settled = sample(run, "vigil_detector_state_saves_total") ?? 0
        var quietWindows = 0
        for _ in 0..<24 {
            try await Task.sleep(for: .milliseconds(2500))
            let now = sample(run, "vigil_detector_state_saves_total") ?? 0
            quietWindows = now == settled ? quietWindows + 1 : 0
            settled = now
            if quietWindows == 2 { break }
        }
        try await Task.sleep(for: .milliseconds(2500))
        #expect(sample(run, "vigil_detector_state_saves_total") == settled, "saved again with nothing new")
        // New readings: saved again within an interval or two.
        for _ in 0..<5 { try await publish() }
        for _ in 0..<100 where (sample(run, "vigil_detector_state_saves_total") ?? 0) <= settled { try await Task.sleep(for: .milliseconds(50)) }
        #expect((sample(run, "vigil_detector_state_saves_total") ?? 0) > settled)
        #expect((sample(run, "vigil_detector_state_last_save_timestamp_seconds") ?? 0) > Date().timeIntervalSince1970 - 60)
        #expect(sample(run, "vigil_detector_state_save_failures_total") == 0)
        try await run.stop()
        await feeder.disconnect()
        // The saved state is one the agent can restore.
        let restored = Pipeline(catalog: catalog)
        #expect(DetectorStateFile(path: stateFile).restore(into: restored, now: base, logger: Logger(label: "t")) != .absent)
        #expect(restored.silenceHeldUntil != nil)
    }

    /// The `vigil` executable built with these tests (next to the test bundle), or `$VIGIL_BINARY`.
    static var vigilBinary: String? {
        if let path = ProcessInfo.processInfo.environment["VIGIL_BINARY"] { return path }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("vigil").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    /// Runs the `vigil` executable to its end: exit status and stdout + stderr together; nil (and a note)
    /// where there is no executable. `environment` adds to (a value of "" removes from) this process's own.
    static func runVigil(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, output: String)? {
        guard let binary = vigilBinary else {
            print("skipped: no vigil executable next to the tests (swift build --product vigil, or set VIGIL_BINARY)")
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in extra { environment[k] = v.isEmpty ? nil : v }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// The value of an unlabelled sample on the agent's /metrics, nil while it does not answer.
    func scrape(_ port: Int, _ name: String) async -> Double? {
        guard let url = URL(string: "http://127.0.0.1:\(port)/metrics"),
              let (data, _) = try? await URLSession.shared.data(from: url) else { return nil }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("\(name) ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test(.timeLimit(.minutes(2))) func theVigilProcessSavesOnSIGTERMAndRestoresAtStart() async throws {
        guard MosquittoBroker.isAvailable else { return }
        guard let binary = Self.vigilBinary else {
            print("skipped: no vigil executable next to the tests (swift build --product vigil, or set VIGIL_BINARY)")
            return
        }
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-sigterm")
        defer { directory.remove() }
        let port = try MosquittoBroker.freePort()
        let configFile = try directory.write("""
            agent: {name: test, catalog: \(RepositoryPaths.file("sensors/plant.yaml")), state_dir: \(directory.path)/state}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            ingest: {max_future_skew: 30d}
            narration: {enabled: false}
            detector: {save_interval: 0}
            metrics: {listen: "127.0.0.1:\(port)"}
            """, to: "vigil.yaml")
        let stateFile = "\(directory.path)/state/detector.state"
        let feeder = try MQTTClient(configuration: MQTTConfiguration(
            host: broker.host, port: broker.port, clientID: "feeder", reconnectDelay: .init(min: .milliseconds(100), max: .milliseconds(500))))
        try await feeder.connect()
        let topic = try #require(catalog.sensor("pump1.current")).topic
        let base = Int64(Date().timeIntervalSince1970 * 1000) + 60_000
        var k = 0

        /// Starts `vigil run`, feeds readings until it has taken some in, stops it with SIGTERM; returns its log.
        func runOnce(_ name: String) async throws -> (log: String, status: Int32, restored: Double?) {
            let log = directory.file("\(name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["run", "--config", configFile]
            let handle = try FileHandle(forWritingTo: log)
            process.standardError = handle
            process.standardOutput = handle
            try process.run()
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            var restored: Double?
            for _ in 0..<200 {
                if let value = await scrape(port, "vigil_detector_state_restored") { restored = value; break }
                try await Task.sleep(for: .milliseconds(50))
            }
            for _ in 0..<150 where (await scrape(port, "vigil_readings_total") ?? 0) < 20 {
                for _ in 0..<5 {
                    k += 1
                    try await feeder.publish(topic: topic, payload: Array("{\"ts\":\(base + Int64(k) * 2000),\"value\":\(30 + k % 4)}".utf8),
                                             qos: .atLeastOnce)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect((await scrape(port, "vigil_readings_total") ?? 0) >= 20, "\(name): the agent took no readings in")
            kill(process.processIdentifier, SIGTERM)
            for _ in 0..<300 where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning, "\(name): still running 15 s after SIGTERM")
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try handle.close()
            return (try String(contentsOf: log, encoding: .utf8), process.terminationStatus, restored)
        }

        let first = try await runOnce("first")
        #expect(first.status == 0, "\(first.log)")
        #expect(first.restored == 0)
        #expect(first.log.contains("no saved detector state"), "\(first.log)")
        #expect(first.log.contains("detector state saved"), "\(first.log)")
        #expect(FileManager.default.fileExists(atPath: stateFile))

        let second = try await runOnce("second")
        #expect(second.status == 0, "\(second.log)")
        #expect(second.restored == 1)
        #expect(second.log.contains("detector state restored"), "\(second.log)")
        await feeder.disconnect()
    }

    @Test func aDowngradedAgentKeepsANewerOutboxAsideAndSaysSo() async throws {
        let sqlite3 = "/usr/bin/sqlite3"
        guard FileManager.default.isExecutableFile(atPath: sqlite3) else {
            print("skipped: no sqlite3 command-line tool")
            return
        }
        let directory = try TemporaryDirectory(prefix: "vigil-downgrade")
        defer { directory.remove() }
        // An outbox written by a later release: schema 2, two events waiting.
        let database = directory.file("outbox.db").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sqlite3)
        process.arguments = [database, """
            CREATE TABLE outbox_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            INSERT INTO outbox_meta VALUES ('schema', '2'), ('database_id', 'abc');
            CREATE TABLE outbox_events(sequence INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, topic TEXT NOT NULL,
                payload BLOB NOT NULL, severity INTEGER NOT NULL, created_at INTEGER NOT NULL, historical INTEGER NOT NULL,
                size INTEGER NOT NULL, priority INTEGER);
            INSERT INTO outbox_events(key, topic, payload, severity, created_at, historical, size) VALUES
                ('a', 't', 'one', 1, 0, 1, 5), ('b', 't', 'two', 1, 0, 1, 5);
            """]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: database))

        let configuration = try AgentConfiguration.parse(yaml: """
            agent: {name: test, catalog: \(RepositoryPaths.file("sensors/plant.yaml")), state_dir: \(directory.path)}
            local: {url: "mqtt://127.0.0.1:1"}
            narration: {enabled: false}
            upstream: {url: "mqtt://127.0.0.1:1"}
            metrics: {enabled: false}
            """, file: directory.file("vigil.yaml").path)
        var logger = Logger(label: "downgrade-test")
        logger.logLevel = .critical
        let agent = LiveAgent(configuration: configuration, catalog: catalog, model: nil, registry: nil, logger: logger)
        // Building the services opens the outbox (nothing connects until they run).
        _ = try await agent.makeServiceGroup(signals: false)
        #expect(sample(agent, "vigil_outbox_newer_schema_files_moved_total") == 1)
        #expect(sample(agent, "vigil_outbox_schema_migrations_total") == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let kept = names.filter { $0.hasPrefix("outbox.db.schema2-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(kept.count == 1, "\(names)")
        if let name = kept.first {
            #expect(try Data(contentsOf: directory.file(name)) == before, "the newer release's file was changed")
        }
        #expect(names.contains("outbox.db"), "no fresh outbox")
    }
}
