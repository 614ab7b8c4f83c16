import Agent
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Synchronization
import Telemetry
import Testing
import VigilTestSupport

/// Issue #14: at start the agent reconciles the retained active alarms with what is open now, and
/// resolves the upstream incidents an earlier run left open.
@Suite(.serialized, .enabled(if: MosquittoBroker.isAvailable, "mosquitto is not installed"))
struct LiveReconcileTests {
    let catalog: Catalog

    init() throws {
        catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
    }

    func configuration(_ broker: MosquittoBroker, _ directory: TemporaryDirectory, upstream: Bool) throws -> AgentConfiguration {
        try AgentConfiguration.parse(yaml: """
            agent: {name: test, catalog: \(RepositoryPaths.file("sensors/plant.yaml")), state_dir: \(directory.path)}
            local: {url: "\(broker.url)", reconnect: {min: 100ms, max: 500ms}}
            ingest: {max_future_skew: 30d}
            narration: {enabled: false}
            \(upstream ? "upstream: {url: \"\(broker.url)\", client_id: test-up, reconnect: {min: 100ms, max: 500ms}}" : "")
            metrics: {enabled: false}
            """, file: directory.file("vigil.yaml").path)
    }

    /// The retained messages under `filter` that a dashboard connecting now would get.
    func retained(_ broker: MosquittoBroker, _ filter: String, id: String) async throws -> [String: [UInt8]] {
        let client = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: id))
        try await client.connect()
        try await client.subscribe(filter, qos: .atLeastOnce)
        let seen = AlertLog()
        let reader = Task { for await m in client.messages where m.retain { seen.append(m) } }
        try await Task.sleep(for: .milliseconds(700))
        reader.cancel()
        await client.disconnect()
        var out: [String: [UInt8]] = [:]
        for m in seen.messages where !m.payload.isEmpty { out[m.topic] = m.payload }
        return out
    }

    @Test(.timeLimit(.minutes(2))) func staleRetainedAlarmsAreClearedAndOpenOnesRepublished() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-reconcile")
        defer { directory.remove() }
        let config = try configuration(broker, directory, upstream: false)

        // An earlier run: pump1.flow out of range, its event open when the state was saved.
        let pipeline = Pipeline(catalog: catalog)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let t0 = now - 600_000
        let index = try #require(catalog.indexByID["pump1.flow"])
        for i in 0..<200 {
            _ = pipeline.ingest(Reading(sensor: "pump1.flow", timestamp: t0 + Int64(i) * 2000, value: 100 + Double(i % 5)),
                                index: index, clock: t0 + Int64(i) * 2000)
        }
        var opened: [String] = []
        for k in 0..<5 {
            let t = t0 + 400_000 + Int64(k) * 2000
            opened += pipeline.ingest(Reading(sensor: "pump1.flow", timestamp: t, value: 950), index: index, clock: t).map(\.id)
        }
        let open = try #require(pipeline.detector.openEvents.first { $0.sensor == "pump1.flow" }, "no open event to save")
        try DetectorStateFile(path: config.detectorState.path).save(pipeline.detector.saveState())

        // What the broker still holds: an alarm that resolved while the agent was down (its clear was
        // lost in a crash), and one of a sensor since removed from the catalog.
        let setter = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "setter"))
        try await setter.connect()
        try await setter.publish(topic: "vigil/test/active/pump2.flow", payload: Array(#"{"event_id":"old","stage":"opened"}"#.utf8),
                                 qos: .atLeastOnce, retain: true)
        try await setter.publish(topic: "vigil/test/active/gone.sensor", payload: Array(#"{"event_id":"gone"}"#.utf8),
                                 qos: .atLeastOnce, retain: true)
        await setter.disconnect()
        #expect(try await retained(broker, "vigil/test/active/#", id: "before").count == 2)

        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer"))
        try await observer.connect()
        try await observer.subscribe("vigil/test/alerts/#", qos: .atLeastOnce)
        let alerts = AlertLog()
        let reader = Task { for await m in observer.messages { alerts.append(m) } }
        var logger = Logger(label: "reconcile-test")
        logger.logLevel = .warning
        let agent = LiveAgent(configuration: config, catalog: catalog, model: nil, registry: nil, logger: logger)
        let group = try await agent.makeServiceGroup(signals: false)
        let task = Task { try await group.run() }

        var held: [String: [UInt8]] = [:]
        var resolvedMeanwhile = false
        for attempt in 0..<20 {
            held = try await retained(broker, "vigil/test/active/#", id: "late-\(attempt)")
            resolvedMeanwhile = alerts.messages.contains {
                $0.topic == "vigil/test/alerts/pump1/pump1.flow" && String(decoding: $0.payload, as: UTF8.self).contains("\"resolved\"")
            }
            if held["vigil/test/active/pump2.flow"] == nil, held["vigil/test/active/gone.sensor"] == nil,
               held["vigil/test/active/pump1.flow"] != nil || resolvedMeanwhile { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(held["vigil/test/active/pump2.flow"] == nil, "a stale retained alarm was not cleared")
        #expect(held["vigil/test/active/gone.sensor"] == nil, "the alarm of a sensor gone from the catalog was not cleared")
        if !resolvedMeanwhile {
            // The event open in the restored state is on the broker (which never had it), as an open alert.
            let body = try #require(held["vigil/test/active/pump1.flow"], "the open alarm was not republished")
            let text = String(decoding: body, as: UTF8.self)
            #expect(text.contains("\"event_id\":\"\(open.id)\""), "\(text)")
            #expect(text.contains("\"stage\":\"opened\""), "\(text)")
            var schema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "alert.schema.json")
            #expect(try schema.validate(JSONValue.parse(body)).isEmpty)

            // The broker restarts without its retained store: on reconnection the open alarm is back.
            broker.kill()
            try await Task.sleep(for: .milliseconds(300))
            try broker.restart()
            var again: [String: [UInt8]] = [:]
            for attempt in 0..<30 where again["vigil/test/active/pump1.flow"] == nil {
                try await Task.sleep(for: .milliseconds(300))
                again = (try? await retained(broker, "vigil/test/active/#", id: "after-restart-\(attempt)")) ?? [:]
            }
            #expect(again["vigil/test/active/pump1.flow"] == body, "the open alarm was not republished after the broker lost it")
        }
        reader.cancel()
        await group.triggerGracefulShutdown()
        try await task.value
        await observer.disconnect()
    }

    @Test(.timeLimit(.minutes(2))) func anIncidentLeftOpenByACrashIsResolvedUpstreamAtStart() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-reconcile-up")
        defer { directory.remove() }
        let config = try configuration(broker, directory, upstream: true)

        // An earlier run opened an incident on tank1 and was killed before its resolved stage.
        var earlier = UpstreamDistiller(site: "north")
        let opened = try #require(earlier.distill(try UpstreamDistillerTests.alert(
            "t1", "opened", asset: "tank1", sensor: "tank1.level", severity: "critical")))
        let file = UpstreamIncidentFile(besideOutbox: config.outbox.path)
        try file.save(earlier.saved)

        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer"))
        try await observer.connect()
        try await observer.subscribe(config.upstreamTopic ?? "vigil/north/test/events", qos: .atLeastOnce)
        let events = AlertLog()
        let reader = Task { for await m in observer.messages { events.append(m) } }
        var logger = Logger(label: "reconcile-test")
        logger.logLevel = .warning
        let agent = LiveAgent(configuration: config, catalog: catalog, model: nil, registry: nil, logger: logger)
        let group = try await agent.makeServiceGroup(signals: false)
        let task = Task { try await group.run() }

        var resolved: MQTTMessage?
        for _ in 0..<100 where resolved == nil {
            try await Task.sleep(for: .milliseconds(100))
            resolved = events.messages.first {
                let text = String(decoding: $0.payload, as: UTF8.self)
                return text.contains("\"stage\":\"resolved\"") && text.contains("\"incident\":\"\(opened.incident)\"")
            }
        }
        let message = try #require(resolved, "the incident left open was never resolved upstream")
        let text = String(decoding: message.payload, as: UTF8.self)
        #expect(text.contains("\"severity\":\"critical\""), "\(text)")
        var schema = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "event.schema.json")
        let failures = try schema.validate(JSONValue.parse(message.payload))
        #expect(failures.isEmpty, "\(failures)")
        // Nothing is left open for the next start.
        #expect(try file.load()?.isEmpty == true)

        reader.cancel()
        await group.triggerGracefulShutdown()
        try await task.value
        await observer.disconnect()
    }

    /// The whole path: a live agent opens an incident upstream and dies before its detector state
    /// holds the event (cancelled, its state file removed: what a SIGKILL between two saves leaves);
    /// the next start resolves the incident upstream.
    @Test(.timeLimit(.minutes(2))) func aLiveIncidentOpenAtACrashIsResolvedByTheNextStart() async throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        let directory = try TemporaryDirectory(prefix: "vigil-reconcile-crash")
        defer { directory.remove() }
        let config = try configuration(broker, directory, upstream: true)
        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer"))
        try await observer.connect()
        try await observer.subscribe(config.upstreamTopic ?? "vigil/north/test/events", qos: .atLeastOnce)
        let events = AlertLog()
        let reader = Task { for await m in observer.messages { events.append(m) } }
        var logger = Logger(label: "reconcile-test")
        logger.logLevel = .warning

        let first = LiveAgent(configuration: config, catalog: catalog, model: nil, registry: nil, logger: logger)
        let firstGroup = try await first.makeServiceGroup(signals: false)
        let firstTask = Task { try await firstGroup.run() }
        let feeder = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "feeder"))
        try await feeder.connect()
        let topic = try #require(catalog.sensor("pump1.flow")).topic
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var opened: String?
        for round in 0..<20 where opened == nil {
            // Until the agent has subscribed and learnt a baseline, then out of range.
            for i in 0..<100 {
                let ts = now - 300_000 + Int64(round * 100 + i) * 100
                try await feeder.publish(topic: topic, payload: Array("{\"ts\":\(ts),\"value\":\(100 + i % 5)}".utf8), qos: .atLeastOnce)
            }
            for k in 0..<5 {
                let ts = now - 300_000 + Int64(round * 100 + 99) * 100 + Int64(k + 1) * 10
                try await feeder.publish(topic: topic, payload: Array("{\"ts\":\(ts),\"value\":950}".utf8), qos: .atLeastOnce)
            }
            for _ in 0..<10 where opened == nil {
                try await Task.sleep(for: .milliseconds(100))
                opened = events.messages.lazy.compactMap { m -> String? in
                    guard let value = try? JSONValue.parse(m.payload), case .object(let members) = value,
                          members.contains(where: { $0.0 == "stage" && $0.1 == .string("opened") }),
                          case .string(let id)? = members.first(where: { $0.0 == "incident" })?.1 else { return nil }
                    return id
                }.first
            }
        }
        let incident = try #require(opened, "no incident opened upstream")
        await feeder.disconnect()
        // The crash: no graceful shutdown, and no detector state that knows the event.
        firstTask.cancel()
        _ = try? await firstTask.value
        try? FileManager.default.removeItem(atPath: config.detectorState.path)
        #expect(try UpstreamIncidentFile(besideOutbox: config.outbox.path).load()?.count == 1)

        let second = LiveAgent(configuration: config, catalog: catalog, model: nil, registry: nil, logger: logger)
        let secondGroup = try await second.makeServiceGroup(signals: false)
        let secondTask = Task { try await secondGroup.run() }
        var resolved = false
        for _ in 0..<100 where !resolved {
            try await Task.sleep(for: .milliseconds(100))
            resolved = events.messages.contains {
                let text = String(decoding: $0.payload, as: UTF8.self)
                return text.contains("\"stage\":\"resolved\"") && text.contains("\"incident\":\"\(incident)\"")
            }
        }
        #expect(resolved, "the incident open at the crash was never resolved upstream")
        reader.cancel()
        await secondGroup.triggerGracefulShutdown()
        try await secondTask.value
        await observer.disconnect()
    }
}
