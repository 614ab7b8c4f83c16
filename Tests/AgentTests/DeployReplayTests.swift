import Agent
import Foundation
import Logging
import MQTT
import Telemetry
import Testing
import VigilTestSupport

/// `vigil replay --broker` against a default agent, and recordings that give no reading.
@Suite struct DeployReplayTests {
    let catalog: Catalog

    init() throws {
        catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
    }

    @Test func restampingKeepsEveryReadingOutOfTheFuture() {
        let now: Int64 = 1_800_000_000_000
        // Faster than the plant (or as fast as possible): the recording ends now.
        #expect(BrokerReplay.restampOffset(first: 1000, last: 7_201_000, now: now, speed: nil) == now - 7_201_000)
        #expect(BrokerReplay.restampOffset(first: 1000, last: 7_201_000, now: now, speed: 60) == now - 7_201_000)
        // At plant speed or slower: it starts now and plays like live data.
        #expect(BrokerReplay.restampOffset(first: 1000, last: 7_201_000, now: now, speed: 1) == now - 1000)
    }

    /// Two hours recorded months ago, columns named by sensor name, played as fast as possible:
    /// every reading arrives, on its sensor's topic, stamped within what a default agent accepts
    /// (not after now + max_future_skew, not before now - max_age).
    @Test func aFastReplayIsAcceptedByADefaultAgent() async throws {
        guard MosquittoBroker.isAvailable else { return }
        let broker = try MosquittoBroker()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var rows = ["timestamp,P-101 flow,pump1.vibration"]
        let start: Int64 = 1_767_225_600_000  // 2026-01-01
        for i in 0..<120 { rows.append("\(start + Int64(i) * 60_000),\(40 + Double(i % 7)),2.5") }
        let path = try directory.write(rows.joined(separator: "\n") + "\n", to: "old.csv")

        let observer = try MQTTClient(configuration: MQTTConfiguration(host: broker.host, port: broker.port, clientID: "observer"))
        try await observer.connect()
        try await observer.subscribe("plant/north/pump1/#", qos: .atLeastOnce)
        let config = try AgentConfiguration.load(file: RepositoryPaths.file("deploy/vigil.example.yaml"))
        var settings = try MQTTConfiguration(url: broker.url, clientID: "replay")
        settings.reconnectDelay.min = .milliseconds(100)
        let replay = BrokerReplay(recording: path, catalog: catalog, broker: settings)
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let report = try await replay.run(logger: Logger(label: "replay"))
        #expect(report.published == 240 && report.skipped == 0)

        let stamps = await withTaskGroup(of: [String: [Int64]].self) { group in
            group.addTask {
                var stamps: [String: [Int64]] = [:]
                for await message in observer.messages {
                    guard case .number(let ts)? = (try? JSONValue.parse(message.payload))?["ts"] else { continue }
                    stamps[message.topic, default: []].append(Int64(ts))
                    if stamps.values.reduce(0, { $0 + $1.count }) == 240 { break }
                }
                return stamps
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))
                return [:]
            }
            let first = await group.next() ?? [:]
            group.cancelAll()
            return first
        }
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(stamps["plant/north/pump1/flow"]?.count == 120, "the column named by sensor name was not published")
        #expect(stamps["plant/north/pump1/vibration"]?.count == 120)
        let all = stamps.values.flatMap { $0 }
        #expect(all.allSatisfy { $0 <= after + Int64(config.maxFutureSkew * 1000) }, "a reading is stamped in the future")
        #expect(all.allSatisfy { $0 >= before - Int64(config.maxAge * 1000) }, "a reading is stamped too old")
        #expect(all.max()! <= after)
        await observer.disconnect()
    }

    @Test(arguments: [
        ("timestamp;pump1.flow\nnot a time;1,5\n", "bad.csv", "no readings"),
        ("{\"fields\":{\"x\":1},\"name\":\"nothing\",\"tags\":{},\"timestamp\":1772323200}\n", "telegraf.json", "no column matches"),
        ("{\"ts\":1772323200000,\"topic\":\"not/in/the/catalog\",\"payload\":\"1\"}\n", "capture.jsonl", "no readings"),
    ])
    func aRecordingWithNoReadingIsAnError(_ text: String, _ name: String, _ fragment: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write(text, to: name)
        let runner = ReplayRunner(options: .init(recording: path, catalog: catalog, labels: nil),
                                  narrator: try AgentNarration.replayNarrator(catalog: catalog))
        do {
            _ = try await runner.run { _ in }
            Issue.record("a replay of \(name) with no reading succeeded")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
        }
    }

    @Test func aDecimalCommaRecordingReplays() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var rows = ["timestamp;P-101 flow"]
        for i in 0..<50 { rows.append("2026-03-01T00:\(String(format: "%02d", i / 30)):\(String(format: "%02d", (i % 30) * 2))Z;\(40 + i % 3),5") }
        let path = try directory.write(rows.joined(separator: "\n") + "\n", to: "de.csv")
        let runner = ReplayRunner(options: .init(recording: path, catalog: catalog, labels: nil),
                                  narrator: try AgentNarration.replayNarrator(catalog: catalog))
        let report = try await runner.run { _ in }
        #expect(report.statistics.readings == 50)
    }
}
