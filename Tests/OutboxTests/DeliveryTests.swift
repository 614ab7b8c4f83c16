import Foundation
import Logging
import Outbox
import Testing

/// Starts `outbox.run` in a task; returns the task so the test can cancel it.
func startRun(_ outbox: Outbox, _ transport: some OutboxTransport, _ link: LinkSwitch) -> Task<Void, Never> {
    Task { await outbox.run(transport: transport, linkStates: link.states) }
}

@Suite("Delivery")
struct DeliveryTests {
    let logger = Logger(label: "test.outbox")

    @Test("Delivers every event in order, at least once, across a broker that refuses for a while")
    func orderAndAtLeastOnceAcrossFailures() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.liveFirst = false  // strict sequence order
        let transport = RecordingTransport()
        let stored = try await OutboxScenarios.orderAndAtLeastOnce(
            peer: transport, configuration: configuration, logger: logger)

        // In process, refused sends never arrived: everything arrived exactly once, unchanged.
        #expect(transport.receivedSequences == stored)
        for (n, message) in transport.received.enumerated() {
            #expect(message.topic == "t/\(n)")
            #expect(message.payload == payload("{\"n\":\(n)}"))
            #expect(message.severity == n % 4)
        }
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        let statistics = await outbox.statistics()
        #expect(statistics.depth == 0)
        #expect(statistics.nextSequence == stored.last! + 1)
        await outbox.close()
    }

    @Test("A failed send or acknowledgement is retried from the oldest unacknowledged event")
    func retriesFromOldestUnacknowledged() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.liveFirst = false
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        var stored: [UInt64] = []
        for n in 0..<30 { stored.append(try #require(try await outbox.enqueue(topic: "t", payload: payload("\(n)")).sequence)) }
        let transport = RecordingTransport()
        transport.failNext(3)
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        link.up()
        await eventually("drained") { await outbox.statistics().depth == 0 }
        runner.cancel()
        await runner.value
        #expect(transport.receivedSequences == stored)
        let statistics = await outbox.statistics()
        #expect(statistics.sendFailures == 3)
        #expect(statistics.sent == 30)
        #expect(statistics.droppedTotal == 0)
        await outbox.close()
    }

    @Test("A lost acknowledgement means a resend with the same key, never a loss", arguments: [1, 8])
    func lostAcknowledgements(maxInFlight: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.maxInFlight = maxInFlight
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        var stored: [UInt64] = []
        for n in 0..<40 { stored.append(try #require(try await outbox.enqueue(topic: "t", payload: payload("\(n)")).sequence)) }
        let transport = RecordingTransport()
        transport.loseAcknowledgements(of: [stored[5], stored[6], stored[20]])
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        link.up()
        await eventually("drained") { await outbox.statistics().depth == 0 }
        runner.cancel()
        await runner.value
        let received = transport.received
        #expect(Set(received.map(\.sequence)) == Set(stored))
        #expect(received.count > stored.count)
        // Every copy of an event carries the same idempotency key.
        for sequence in [stored[5], stored[6], stored[20]] {
            let copies = received.filter { $0.sequence == sequence }
            #expect(copies.count >= 2)
            #expect(Set(copies.map(\.key)).count == 1)
        }
        let statistics = await outbox.statistics()
        #expect(statistics.sent == 40)
        #expect(statistics.sendFailures >= 2)
        await outbox.close()
    }

    @Test("Producers, a flapping link and random faults together: all delivered, first arrivals in order")
    func stressFlappingLink() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.liveFirst = false
        configuration.maxInFlight = 8
        configuration.retryDelay = .milliseconds(1)
        configuration.maxRetryDelay = .milliseconds(5)
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        let transport = RecordingTransport()
        transport.setRandomFaults(sends: 0.05, acknowledgements: 0.05)
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        let flapper = Task {
            var up = false
            while !Task.isCancelled {
                up.toggle()
                if up { link.up() } else { link.down() }
                try? await Task.sleep(for: .milliseconds(Int.random(in: 2...15)))
            }
        }
        let stored = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for producer in 0..<4 {
                group.addTask {
                    var mine: [UInt64] = []
                    for n in 0..<150 {
                        let result = try await outbox.enqueue(topic: "p\(producer)", payload: payload("\(n)"))
                        mine.append(try #require(result.sequence))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        flapper.cancel()
        await flapper.value
        transport.setRandomFaults(sends: 0, acknowledgements: 0)
        link.up()
        await eventually("drained") { await outbox.statistics().depth == 0 }
        runner.cancel()
        await runner.value

        var firstArrivals: [UInt64] = []
        var seen = Set<UInt64>()
        for sequence in transport.receivedSequences where seen.insert(sequence).inserted { firstArrivals.append(sequence) }
        #expect(seen == Set(stored))
        #expect(firstArrivals == stored.sorted())
        let statistics = await outbox.statistics()
        #expect(statistics.enqueued == 600)
        #expect(statistics.sent == 600)
        #expect(statistics.droppedTotal == 0)
        await outbox.close()
    }

    @Test("Draining starts when the link comes up, without a new event")
    func drainStartsOnLinkUp() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        for n in 0..<25 {
            let result = try await outbox.enqueue(topic: "t", payload: payload("\(n)"))
            #expect(result == .stored(sequence: try #require(result.sequence), historical: true))
        }
        let transport = RecordingTransport()
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        link.down()
        try await Task.sleep(for: .milliseconds(100))
        #expect(transport.received.isEmpty)

        link.up()
        await eventually("backlog drained") { await outbox.statistics().depth == 0 }
        #expect(transport.received.count == 25)
        #expect(transport.received.allSatisfy { $0.historical })

        // A live event while the link is up and nothing is pending.
        let live = try await outbox.enqueue(topic: "t", payload: payload("live"))
        #expect(live == .stored(sequence: try #require(live.sequence), historical: false))
        await eventually("live event delivered") { transport.received.count == 26 }
        #expect(transport.received.last?.historical == false)
        runner.cancel()
        await runner.value
        await outbox.close()
    }

    @Test("Never more than maxInFlight unacknowledged", arguments: [1, 3, 8])
    func inFlightCap(maxInFlight: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.maxInFlight = maxInFlight
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        for n in 0..<20 { try await outbox.enqueue(topic: "t", payload: payload("\(n)")) }
        let transport = RecordingTransport()
        transport.setHolding(true)
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        link.up()

        await eventually("window filled") { transport.received.count == maxInFlight }
        try await Task.sleep(for: .milliseconds(100))
        #expect(transport.received.count == maxInFlight)
        transport.release(1)
        await eventually("one more sent") { transport.received.count == maxInFlight + 1 }
        // Deleted only once acknowledged.
        #expect(await outbox.statistics().depth >= 20 - transport.acknowledged.count)

        transport.setHolding(false)
        while await outbox.statistics().depth > 0 {
            transport.release()
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(transport.maxOutstanding == maxInFlight)
        #expect(transport.receivedSequences == transport.receivedSequences.sorted())
        #expect(Set(transport.receivedSequences).count == 20)
        runner.cancel()
        await runner.value
        await outbox.close()
    }

    @Test("The byte rate cap holds: N bytes beyond one second's burst take at least N / rate")
    func rateCap() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.maxBytesPerSecond = 2000
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        let body = [UInt8](repeating: 0x41, count: 100)
        for _ in 0..<40 { try await outbox.enqueue(topic: "t", payload: body) }
        let transport = RecordingTransport()
        let link = LinkSwitch()
        let clock = ContinuousClock()
        let start = clock.now
        let runner = startRun(outbox, transport, link)
        link.up()
        // Sampled while draining: never more than the burst plus what the elapsed time allows.
        var samples = 0
        while transport.received.count < 40, clock.now - start < .seconds(30) {
            let elapsed = clock.now - start
            let count = transport.received.count
            let allowed = (2000 + 2000 * Double(elapsed.components.seconds + 1)) / 100
            #expect(Double(count) <= allowed)
            samples += 1
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = clock.now - start
        #expect(transport.received.count == 40)
        // 4000 bytes, 2000 of them in the initial burst: the other 2000 need a second.
        #expect(elapsed >= .milliseconds(950))
        #expect(samples > 0)
        runner.cancel()
        await runner.value
        await outbox.close()
    }

    @Test("Live events go ahead of the backlog when liveFirst; strict order otherwise", arguments: [true, false])
    func liveFirst(liveFirst: Bool) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.liveFirst = liveFirst
        configuration.maxInFlight = 1
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        var backlog: [UInt64] = []
        for n in 0..<10 {
            backlog.append(try #require(try await outbox.enqueue(topic: "t", payload: payload("\(n)")).sequence))
        }
        let transport = RecordingTransport()
        transport.setHolding(true)
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        link.up()
        await eventually("first backlog event sent") { transport.received.count == 1 }
        let live = try await outbox.enqueue(topic: "t", payload: payload("live"))
        let liveSequence = try #require(live.sequence)
        // With liveFirst, produced while the link is up: live. Otherwise it queues behind the backlog.
        #expect(live == .stored(sequence: liveSequence, historical: !liveFirst))
        transport.setHolding(false)
        transport.release()
        await eventually("all delivered") { await outbox.statistics().depth == 0 }
        let order = transport.receivedSequences
        if liveFirst {
            #expect(order == [backlog[0], liveSequence] + backlog.dropFirst())
        } else {
            #expect(order == backlog + [liveSequence])
        }
        #expect(transport.received.filter { !$0.historical }.map(\.sequence) == (liveFirst ? [liveSequence] : []))
        runner.cancel()
        await runner.value
        await outbox.close()
    }

    @Test("Events pending when the link drops become historical and are sent again")
    func linkDownMakesPendingHistorical() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        let transport = RecordingTransport()
        transport.setHolding(true)
        let link = LinkSwitch()
        let runner = startRun(outbox, transport, link)
        link.up()
        await eventually("link up") { await outbox.statistics().linkUp }
        var sequences: [UInt64] = []
        for n in 0..<5 {
            let result = try await outbox.enqueue(topic: "t", payload: payload("\(n)"))
            #expect(result == .stored(sequence: try #require(result.sequence), historical: false))
            sequences.append(try #require(result.sequence))
        }
        await eventually("sent, unacknowledged") { transport.received.count == 5 }
        link.down()
        await eventually("pending turned historical") { await outbox.statistics().historicalDepth == 5 }
        // The outbox gives up waiting for those acknowledgements (the link is gone).
        await eventually("acknowledgements abandoned") { transport.heldCount == 0 }
        transport.setHolding(false)
        link.up()
        await eventually("resent and acknowledged") { await outbox.statistics().depth == 0 }
        let resent = transport.received.dropFirst(5)
        #expect(resent.map(\.sequence) == sequences)
        #expect(resent.allSatisfy { $0.historical })
        // Same idempotency keys on the resend: the receiver can drop the duplicates.
        #expect(resent.map(\.key) == transport.received.prefix(5).map(\.key))
        runner.cancel()
        await runner.value
        await outbox.close()
    }

    @Test("Reopening keeps stored events, keys and sequence numbers; numbers are never reused")
    func reopenKeepsDataAndSequence() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var first = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        var stored: [UInt64] = []
        for n in 0..<10 {
            stored.append(try #require(try await first.enqueue(topic: "t", payload: payload("\(n)"), key: n == 0 ? "mine" : nil).sequence))
        }
        await first.close()

        first = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        var statistics = await first.statistics()
        #expect(statistics.depth == 10)
        #expect(statistics.nextSequence == stored.last! + 1)
        let transport = RecordingTransport()
        let link = LinkSwitch()
        var runner = startRun(first, transport, link)
        link.up()
        await eventually("drained") { await first.statistics().depth == 0 }
        runner.cancel()
        await runner.value
        #expect(transport.receivedSequences == stored)
        #expect(transport.received.first?.key == "mine")
        let prefix = String(try #require(transport.received.last?.key.split(separator: "-").first))
        #expect(!prefix.isEmpty)
        for message in transport.received.dropFirst() {
            #expect(message.key == "\(prefix)-\(message.sequence)")
        }
        await first.close()

        // Everything was deleted; the next number still continues above the old ones.
        let second = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        statistics = await second.statistics()
        #expect(statistics.depth == 0)
        let next = try #require(try await second.enqueue(topic: "t", payload: payload("x")).sequence)
        #expect(next == stored.last! + 1)
        let link2 = LinkSwitch()
        let transport2 = RecordingTransport()
        runner = startRun(second, transport2, link2)
        link2.up()
        await eventually("drained") { await second.statistics().depth == 0 }
        #expect(transport2.received.first?.key == "\(prefix)-\(next)")
        runner.cancel()
        await runner.value
        await second.close()
    }

    @Test("A drained backlog gives its disk space back")
    func drainedFileShrinks() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func fileBytes() throws -> Int {
            try ["", "-wal"].reduce(0) { total, extra in
                let path = directory.database + extra
                guard FileManager.default.fileExists(atPath: path) else { return total }
                return total + ((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            }
        }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<250 { try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: 7, count: 2000)) }
                }
            }
            try await group.waitForAll()
        }
        let full = try fileBytes()
        #expect(full > 4_000_000)
        _ = await drainAll(outbox)
        await outbox.close()
        let drained = try fileBytes()
        #expect(drained < full / 4, "file kept \(drained) of \(full) bytes")
    }

    @Test("Topic, key and payload come back exactly as given, whatever their bytes")
    func roundTripsOddContent() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        let topic = "vigil/ä/\u{0}/evt 😀"
        let key = "k\u{0}ey-ü"
        let bodies: [[UInt8]] = [[], [0], [0xFF, 0x00, 0xFE], Array("{\"a\":1}".utf8)]
        let createdAt = OutboxConfiguration.systemMilliseconds() - 1234
        for body in bodies {
            #expect(try await outbox.enqueue(topic: topic, payload: body, severity: -3, key: key, createdAt: createdAt).sequence != nil)
        }
        let received = await drainAll(outbox)
        #expect(received.map(\.payload) == bodies)
        #expect(received.allSatisfy { $0.topic == topic && $0.key == key && $0.severity == -3 && $0.createdAt == createdAt })
        await outbox.close()
    }

    @Test("A closed outbox refuses new events with a clear error")
    func closedOutboxRefuses() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: .test(directory.database), logger: logger)
        await outbox.close()
        await #expect(throws: OutboxError.closed) {
            try await outbox.enqueue(topic: "t", payload: payload("late"))
        }
    }

    @Test("Invalid configuration names the key")
    func invalidConfiguration() async throws {
        var configuration = OutboxConfiguration(path: "/tmp/never.db")
        configuration.maxInFlight = 0
        await #expect(throws: OutboxError.invalidConfiguration("outbox.maxInFlight: expected at least 1")) {
            _ = try await Outbox.open(configuration: configuration, logger: logger)
        }
        let missing = OutboxConfiguration(path: "/nonexistent-folder-\(UUID())/outbox.db")
        await #expect(throws: OutboxError.self) {
            _ = try await Outbox.open(configuration: missing, logger: logger)
        }
    }
}
