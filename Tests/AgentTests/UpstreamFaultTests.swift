import Agent
import Foundation
import Logging
import MQTT
import Outbox
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Store-and-forward against a real mosquitto and real SQLite files: outages, crashes, slow and
/// dying brokers, a full outbox and a damaged database. Each test skips without mosquitto.
@Suite("Upstream faults", .serialized, .enabled(if: MosquittoBroker.isAvailable, "mosquitto is not installed"))
struct UpstreamFaultTests {
    let logger = Upstream.logger
    let topic = "vigil/test-site/test-agent/events"

    @Test("Upstream broker down for a minute while 2,000 events are produced: all arrive in order, historical, drained on link-up",
          .timeLimit(.minutes(3)))
    func brokerDownDuringBurst() async throws {
        let broker = try Upstream.broker()
        let directory = try TemporaryDirectory(prefix: "vigil-upstream")
        defer { directory.remove() }
        let subscriber = try await UpstreamSubscriber(broker: broker, topic: topic, logger: logger)
        let outbox = try await Outbox.open(configuration: .init(path: directory.file("outbox.db").path), logger: logger)
        let link = try UpstreamLink(outbox: outbox, broker: broker, logger: logger)
        await Upstream.eventually("link up") { await outbox.statistics().linkUp }

        // The outage: a clean stop keeps the subscriber's persistent session for the restart.
        let outageLength = Duration.seconds(60)
        let outage = ContinuousClock.now
        broker.stop()
        await Upstream.eventually("link down") { await !outbox.statistics().linkUp }
        // Bursts of 200 events every 5 s through the minute the broker is away.
        var stored: [UInt64] = []
        for burst in 0..<10 {
            stored += try await Upstream.enqueue(outbox, count: 200, topic: topic, keyPrefix: "burst\(burst)")
            let next = outage + .seconds(5 * (burst + 1))
            if next > ContinuousClock.now { try await Task.sleep(until: next) }
        }
        #expect(stored.count == 2000)
        #expect(await outbox.statistics().depth == 2000)
        let rest = outageLength - (ContinuousClock.now - outage)
        if rest > .zero { try await Task.sleep(for: rest) }
        #expect(await !outbox.statistics().linkUp)
        try broker.restart()

        // No new events: the drain starts because the link came up.
        await Upstream.eventually("all 2,000 delivered") { subscriber.distinctSequences.count >= 2000 }
        await Upstream.eventually("outbox empty") { await outbox.statistics().depth == 0 }
        let received = subscriber.received
        let duplicates = Upstream.checkDelivery(stored: stored, received: received)
        #expect(received.filter { !$0.historical }.isEmpty, "an event committed during the outage arrived as live")
        #expect(subscriber.malformedCount == 0)

        // After the backlog, an event produced with the link up goes out live.
        let live = try #require(try await outbox.enqueue(topic: topic, payload: Array("{}".utf8), key: "live").sequence)
        await Upstream.eventually("live event delivered") { subscriber.distinctSequences.contains(live) }
        #expect(subscriber.received.last { $0.sequence == live }?.historical == false)

        let statistics = await outbox.statistics()
        #expect(statistics.droppedTotal == 0)
        #expect(statistics.sent >= 2001)
        print("upstream outage: 2000 events stored during a 60 s outage, \(received.count) arrivals, \(duplicates) duplicates, send failures \(statistics.sendFailures)")
        await link.stop()
        await subscriber.close()
    }

    @Test("SIGKILL of an agent's outbox + MQTT transport 24 times during enqueue and drain: every committed event arrives",
          .timeLimit(.minutes(2)))
    func killNineDuringEnqueueAndDrain() async throws {
        let child = try #require(Self.crashChild(), "UpstreamCrashChild not built beside the tests")
        let broker = try Upstream.broker()
        let directory = try TemporaryDirectory(prefix: "vigil-upstream-crash")
        defer { directory.remove() }
        let database = directory.file("outbox.db").path
        let subscriber = try await UpstreamSubscriber(broker: broker, topic: topic, logger: logger)

        var committed: [UInt64: String] = [:]
        var committedLines = 0
        var roundsWithCommits = 0
        let rounds = 24
        for round in 0..<rounds {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: child)
            process.arguments = [database, String(broker.port), topic]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let reader = UpstreamPipeReader(output.fileHandleForReading)
            // Some kills land during start-up and recovery, most while enqueuing and draining.
            let delay = round % 5 == 0 ? Int.random(in: 5...80) : Int.random(in: 100...500)
            try await Task.sleep(for: .milliseconds(delay))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the child exited by itself")

            // Only whole lines count: each was written after its enqueue returned.
            let lines = reader.text().split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            var roundCommits = 0
            for line in lines {
                let fields = line.split(separator: " ")
                guard fields.count == 3, fields[0] == "committed", let sequence = UInt64(fields[1]) else {
                    Issue.record("round \(round): unexpected output \(line)")
                    continue
                }
                #expect(committed[sequence] == nil, "sequence \(sequence) was assigned twice")
                committed[sequence] = String(fields[2])
                roundCommits += 1
            }
            committedLines += roundCommits
            if roundCommits > 0 { roundsWithCommits += 1 }
        }
        #expect(roundsWithCommits >= rounds / 2, "too few rounds got to commit anything")
        #expect(committed.count == committedLines)

        // Let what is left drain: the same database, the same transport, no producer.
        let outbox = try await Outbox.open(configuration: .init(path: database), logger: logger)
        let left = await outbox.statistics().depth
        let link = try UpstreamLink(outbox: outbox, broker: broker, logger: logger)
        await Upstream.eventually("outbox drained") { await outbox.statistics().depth == 0 }
        await Upstream.eventually("every committed event delivered") {
            Set(committed.keys).isSubset(of: subscriber.distinctSequences)
        }
        await link.stop()
        try await Task.sleep(for: .milliseconds(200))

        let received = subscriber.received
        var keyOf: [UInt64: String] = [:]
        var duplicates = 0
        for arrival in received {
            if let key = keyOf[arrival.sequence] {
                duplicates += 1
                #expect(key == arrival.key, "sequence \(arrival.sequence) repeated with another key")
            } else {
                keyOf[arrival.sequence] = arrival.key
            }
            if let key = committed[arrival.sequence] {
                #expect(key == arrival.key, "sequence \(arrival.sequence) arrived with a key other than its own")
            }
        }
        let missing = Set(committed.keys).subtracting(keyOf.keys)
        #expect(missing.isEmpty, "\(missing.count) committed events never arrived, e.g. \(missing.sorted().prefix(5))")
        #expect(Set(keyOf.values).count == keyOf.count, "two sequences carried the same key")
        #expect(!committed.isEmpty)
        #expect(subscriber.malformedCount == 0)
        // Events committed but killed before the child could print them arrive too (not counted as committed).
        let unreported = keyOf.count - Set(keyOf.keys).intersection(committed.keys).count
        print("upstream kill -9: \(rounds) kills, \(committed.count) committed, \(keyOf.count) delivered (\(unreported) unreported commits), \(duplicates) duplicates, \(left) left to drain at the end")
        await subscriber.close()
    }

    @Test("Broker killed with SIGKILL mid-drain and restarted: every event of the backlog arrives", .timeLimit(.minutes(2)))
    func brokerKilledMidDrain() async throws {
        let broker = try Upstream.broker()
        let directory = try TemporaryDirectory(prefix: "vigil-upstream")
        defer { directory.remove() }
        let subscriber = try await UpstreamSubscriber(broker: broker, topic: topic, logger: logger)
        // Save the subscriber's session to the broker's persistence file (a kill -9 saves nothing).
        broker.stop()
        try broker.restart()
        await Upstream.eventually("subscriber back") { subscriber.client.isConnected }

        let outbox = try await Outbox.open(configuration: .init(path: directory.file("outbox.db").path), logger: logger)
        let stored = try await Upstream.enqueue(outbox, count: 3000, topic: topic, keyPrefix: "kill")
        let link = try UpstreamLink(outbox: outbox, broker: broker, logger: logger)
        await Upstream.eventually("drain under way") { subscriber.distinctSequences.count >= 500 }
        broker.kill()
        let atKill = subscriber.distinctSequences.count
        try await Task.sleep(for: .milliseconds(500))
        try broker.restart()
        await Upstream.eventually("all 3,000 delivered") { subscriber.distinctSequences.count >= 3000 }
        await Upstream.eventually("outbox empty") { await outbox.statistics().depth == 0 }
        let duplicates = Upstream.checkDelivery(stored: stored, received: subscriber.received)
        let statistics = await outbox.statistics()
        #expect(atKill < 3000, "the backlog drained before the kill: the test proves nothing")
        #expect(statistics.droppedTotal == 0)
        print("upstream broker kill -9: killed after \(atKill) of 3000 delivered; \(duplicates) duplicates, \(statistics.sendFailures) send failures")
        await link.stop()
        await subscriber.close()
    }

    @Test("Broker frozen (SIGSTOP) for 3 s mid-drain, then resumed: every event arrives", .timeLimit(.minutes(2)))
    func brokerPausedMidDrain() async throws {
        let broker = try Upstream.broker()
        let directory = try TemporaryDirectory(prefix: "vigil-upstream")
        defer { directory.remove() }
        let subscriber = try await UpstreamSubscriber(broker: broker, topic: topic, logger: logger)
        let outbox = try await Outbox.open(configuration: .init(path: directory.file("outbox.db").path), logger: logger)
        let stored = try await Upstream.enqueue(outbox, count: 2000, topic: topic, keyPrefix: "pause")
        let link = try UpstreamLink(outbox: outbox, broker: broker, logger: logger)
        await Upstream.eventually("drain under way") { subscriber.distinctSequences.count >= 300 }
        broker.pause()
        try await Task.sleep(for: .milliseconds(300))
        let atPause = subscriber.distinctSequences.count
        try await Task.sleep(for: .seconds(3))
        // Nothing moves while the broker is frozen.
        #expect(subscriber.distinctSequences.count == atPause)
        broker.resume()
        await Upstream.eventually("all 2,000 delivered") { subscriber.distinctSequences.count >= 2000 }
        await Upstream.eventually("outbox empty") { await outbox.statistics().depth == 0 }
        let duplicates = Upstream.checkDelivery(stored: stored, received: subscriber.received)
        #expect(atPause < 2000, "the backlog drained before the pause: the test proves nothing")
        #expect(await outbox.statistics().droppedTotal == 0)
        print("upstream broker paused: frozen after \(atPause) of 2000 delivered; \(duplicates) duplicates")
        await link.stop()
        await subscriber.close()
    }

    @Test("Full outbox (maxRows 100): drops counted by reason, the rest delivered, none silently lost",
          .timeLimit(.minutes(2)))
    func fullOutbox() async throws {
        let broker = try Upstream.broker()
        let directory = try TemporaryDirectory(prefix: "vigil-upstream")
        defer { directory.remove() }
        let subscriber = try await UpstreamSubscriber(broker: broker, topic: topic, logger: logger)
        let outbox = try await Outbox.open(
            configuration: .init(path: directory.file("outbox.db").path, maxRows: 100), logger: logger)
        // The link is not up yet: 250 events (severity n % 3) into room for 100.
        var results: [OutboxEnqueueResult] = []
        for n in 0..<250 {
            let body = Array("{\"severity\":\(n % 3),\"n\":\(n)}".utf8)
            results.append(try await outbox.enqueue(topic: topic, payload: body, severity: n % 3, key: "full-\(n)"))
        }
        let before = await outbox.statistics()
        #expect(before.depth == 100)
        #expect(before.dropped[.maxRows] == 150, "drops: \(before.dropped)")
        #expect(before.droppedTotal == 150)
        let stored = results.compactMap(\.sequence)
        let refused = results.count - stored.count

        let link = try UpstreamLink(outbox: outbox, broker: broker, logger: logger)
        await Upstream.eventually("outbox empty") { await outbox.statistics().depth == 0 }
        await Upstream.eventually("100 delivered") { subscriber.distinctSequences.count >= 100 }
        try await Task.sleep(for: .milliseconds(200))
        let received = subscriber.received
        let delivered = Set(received.map(\.sequence))
        #expect(delivered.count == 100)
        #expect(delivered.isSubset(of: Set(stored)))
        // Accounting: each of the 250 was either delivered or counted as dropped.
        #expect(UInt64(delivered.count) + before.droppedTotal == 250)
        // The default policy kept the most severe: all 83 events of severity 2 made it.
        #expect(Set(received.filter { $0.severityHint == 2 }.map(\.sequence)).count == 83)
        print("upstream full outbox: 250 produced, \(delivered.count) delivered, \(before.dropped[.maxRows] ?? 0) dropped (max_rows; \(refused) refused at enqueue)")
        await link.stop()
        await subscriber.close()
    }

    @Test("Corrupt database file at startup: moved aside, counted, new events still delivered", .timeLimit(.minutes(2)))
    func corruptDatabaseAtStartup() async throws {
        let broker = try Upstream.broker()
        let directory = try TemporaryDirectory(prefix: "vigil-upstream")
        defer { directory.remove() }
        let path = directory.file("outbox.db").path
        let garbage = String(repeating: "this is not a SQLite database\n", count: 400)
        try garbage.write(toFile: path, atomically: false, encoding: .utf8)
        let subscriber = try await UpstreamSubscriber(broker: broker, topic: topic, logger: logger)

        let outbox = try await Outbox.open(configuration: .init(path: path), logger: logger)
        let opened = await outbox.statistics()
        #expect(opened.corruptFilesMovedAside == 1)
        #expect(opened.depth == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let aside = names.filter { $0.hasPrefix("outbox.db.corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(aside.count == 1, "files: \(names)")
        if let name = aside.first {
            #expect(try String(contentsOfFile: directory.file(name).path, encoding: .utf8) == garbage,
                    "the damaged file was not kept as it was")
        }

        let link = try UpstreamLink(outbox: outbox, broker: broker, logger: logger)
        let stored = try await Upstream.enqueue(outbox, count: 50, producers: 2, topic: topic, keyPrefix: "after-damage")
        await Upstream.eventually("50 delivered") { subscriber.distinctSequences.count >= 50 }
        await Upstream.eventually("outbox empty") { await outbox.statistics().depth == 0 }
        Upstream.checkDelivery(stored: stored, received: subscriber.received, ordered: false)
        await link.stop()
        await subscriber.close()
    }

    /// The `UpstreamCrashChild` executable built beside the test binary.
    static func crashChild() -> String? {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["VIGIL_UPSTREAM_CRASH_CHILD"] { candidates.append(explicit) }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(me.deletingLastPathComponent().appendingPathComponent("UpstreamCrashChild").path)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for configuration in ["release", "debug"] {
            candidates.append(root.appendingPathComponent(".build/\(configuration)/UpstreamCrashChild").path)
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Reads a pipe to its end on a plain thread (the child's output must not block it).
final class UpstreamPipeReader: @unchecked Sendable {
    // @unchecked: `data` is written once by the thread before `done` is signalled.
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}
