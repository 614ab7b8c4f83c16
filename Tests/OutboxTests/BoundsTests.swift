import Foundation
import Logging
import Outbox
import Testing

enum Bound: String, CaseIterable, Sendable {
    case rows, bytes
}

/// Drains everything to a recording transport and returns what arrived. What is checked is what arrives, not
/// how fast: the wait is long, because under a loaded full run a backlog of thousands once took over 30 s.
func drainAll(_ outbox: Outbox) async -> [OutboxMessage] {
    let transport = RecordingTransport()
    let link = LinkSwitch()
    let runner = startRun(outbox, transport, link)
    link.up()
    await eventually("drained", timeout: .seconds(180)) {
        let statistics = await outbox.statistics()
        return statistics.depth == 0 && statistics.blockedEnqueues == 0
    }
    runner.cancel()
    await runner.value
    return transport.received
}

@Suite("Bounds and policies")
struct BoundsTests {
    let logger = Logger(label: "test.outbox")

    /// Five 11-byte events fill either bound exactly.
    func configuration(_ path: String, _ bound: Bound, _ policy: OutboxFullPolicy) -> OutboxConfiguration {
        var configuration = OutboxConfiguration.test(path)
        configuration.fullPolicy = policy
        switch bound {
        case .rows: configuration.maxRows = 5
        case .bytes: configuration.maxBytes = 55
        }
        return configuration
    }

    func body(_ n: Int) -> [UInt8] { Array(String(format: "event-%04d", n).utf8) }  // 10 bytes

    @Test("When full, the policy decides and every drop is counted by reason", arguments: Bound.allCases, OutboxFullPolicy.allCases)
    func fullPolicy(bound: Bound, policy: OutboxFullPolicy) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: configuration(directory.database, bound, policy), logger: logger)
        let reason: OutboxDropReason = bound == .rows ? .maxRows : .maxBytes
        for (n, severity) in [1, 2, 1, 3, 1].enumerated() {
            let result = try await outbox.enqueue(topic: "t", payload: body(n + 1), severity: severity)
            #expect(result.sequence != nil)
        }
        switch policy {
        case .dropOldestLowestSeverity:
            // #6 (severity 2) evicts #1; #7 (severity 0) is below everything stored, so it is the
            // one dropped; #8 (severity 1) evicts #3.
            #expect(try await outbox.enqueue(topic: "t", payload: body(6), severity: 2).sequence != nil)
            #expect(try await outbox.enqueue(topic: "t", payload: body(7), severity: 0) == .dropped(reason))
            #expect(try await outbox.enqueue(topic: "t", payload: body(8), severity: 1).sequence != nil)
            let statistics = await outbox.statistics()
            #expect(statistics.dropped[reason] == 3)
            #expect(statistics.droppedTotal == 3)
            #expect(statistics.depth == 5)
            let received = await drainAll(outbox)
            #expect(received.map(\.payload) == [2, 4, 5, 6, 8].map(body))
        case .dropNewest:
            for n in 6...8 {
                #expect(try await outbox.enqueue(topic: "t", payload: body(n), severity: 9) == .dropped(reason))
            }
            let statistics = await outbox.statistics()
            #expect(statistics.dropped[reason] == 3)
            #expect(statistics.droppedTotal == 3)
            let received = await drainAll(outbox)
            #expect(received.map(\.payload) == (1...5).map(body))
        case .block:
            let blocked = Task { try await outbox.enqueue(topic: "t", payload: body(6), severity: 0) }
            await eventually("enqueue blocked") { await outbox.statistics().blockedEnqueues == 1 }
            #expect(await outbox.statistics().depth == 5)
            let received = await drainAll(outbox)
            let result = try await blocked.value
            #expect(result.sequence != nil)
            #expect(received.map(\.payload) == (1...6).map(body))
            #expect(await outbox.statistics().droppedTotal == 0)
        }
        // Every stored event was either delivered or evicted (and counted).
        let statistics = await outbox.statistics()
        let evicted: UInt64 = policy == .dropOldestLowestSeverity ? 2 : 0
        #expect(statistics.depth == 0)
        #expect(statistics.enqueued == statistics.sent + evicted)
        await outbox.close()
    }

    @Test("A blocked enqueue can be cancelled and stores nothing")
    func blockedEnqueueCancels() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: configuration(directory.database, .rows, .block), logger: logger)
        for n in 1...5 { try await outbox.enqueue(topic: "t", payload: body(n)) }
        let blocked = Task { try await outbox.enqueue(topic: "t", payload: body(6)) }
        await eventually("enqueue blocked") { await outbox.statistics().blockedEnqueues == 1 }
        blocked.cancel()
        await #expect(throws: CancellationError.self) { try await blocked.value }
        #expect(await outbox.statistics().blockedEnqueues == 0)
        #expect(await drainAll(outbox).map(\.payload) == (1...5).map(body))
        await outbox.close()
    }

    @Test("An enqueue from a cancelled task still commits when there is room")
    func cancelledTaskStillCommits() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outbox = try await Outbox.open(configuration: configuration(directory.database, .rows, .block), logger: logger)
        let task = Task { () async throws -> OutboxEnqueueResult in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await outbox.enqueue(topic: "t", payload: body(1))
        }
        #expect(try await task.value.sequence != nil)
        #expect(await outbox.statistics().depth == 1)
        await outbox.close()
    }

    @Test("Events older than maxAge are dropped and counted, whatever the policy", arguments: OutboxFullPolicy.allCases)
    func maxAge(policy: OutboxFullPolicy) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let clock = ManualWallClock()
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.fullPolicy = policy
        configuration.maxAge = .seconds(60)
        configuration.now = { clock.now }
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        for n in 1...3 { try await outbox.enqueue(topic: "t", payload: body(n)) }
        clock.advance(milliseconds: 61_000)
        // A stale event is refused at once; the next enqueue prunes the three that expired.
        #expect(try await outbox.enqueue(topic: "t", payload: body(9), createdAt: clock.now - 120_000) == .dropped(.maxAge))
        #expect(try await outbox.enqueue(topic: "t", payload: body(4)).sequence != nil)
        var statistics = await outbox.statistics()
        #expect(statistics.dropped[.maxAge] == 4)
        #expect(statistics.depth == 1)
        #expect(statistics.oldestAgeMilliseconds == 0)

        // Expiry also happens while nothing is enqueued, before anything is sent.
        clock.advance(milliseconds: 61_000)
        let received = await drainAll(outbox)
        #expect(received.isEmpty)
        statistics = await outbox.statistics()
        #expect(statistics.dropped[.maxAge] == 5)
        #expect(statistics.droppedTotal == 5)
        await outbox.close()
    }

    @Test("An event larger than maxBytes is dropped as too large")
    func tooLarge() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for policy in OutboxFullPolicy.allCases {
            let outbox = try await Outbox.open(
                configuration: configuration(directory.database + "\(policy)", .bytes, policy), logger: logger)
            #expect(try await outbox.enqueue(topic: "t", payload: [UInt8](repeating: 1, count: 100)) == .dropped(.tooLarge))
            #expect(await outbox.statistics().dropped[.tooLarge] == 1)
            await outbox.close()
        }
    }

    @Test("A full disk (SQLITE_FULL) is handled by the same policy and counted", arguments: OutboxFullPolicy.allCases)
    func diskFull(policy: OutboxFullPolicy) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = OutboxConfiguration.test(directory.database)
        configuration.fullPolicy = policy
        configuration.maxFileBytes = 64 * 1024
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        let big = [UInt8](repeating: 0x5A, count: 1500)
        var stored = 0
        var dropped = 0
        var blocked: Task<OutboxEnqueueResult, any Error>?
        for n in 0..<120 {
            if policy == .block {
                let attempt = Task { try await outbox.enqueue(topic: "t", payload: big, severity: n % 3) }
                // Stop at the first enqueue that has to wait for room.
                var finished: OutboxEnqueueResult?
                for _ in 0..<400 {
                    if await outbox.statistics().blockedEnqueues > 0 { break }
                    if await outbox.statistics().enqueued == UInt64(stored + 1) {
                        finished = try await attempt.value
                        break
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
                if let finished {
                    #expect(finished.sequence != nil)
                    stored += 1
                    continue
                }
                blocked = attempt
                break
            }
            switch try await outbox.enqueue(topic: "t", payload: big, severity: n % 3) {
            case .stored: stored += 1
            case .dropped(let reason):
                #expect(reason == .diskFull)
                dropped += 1
            }
        }
        let statistics = await outbox.statistics()
        switch policy {
        case .dropOldestLowestSeverity:
            // Older events of the lowest severity made room; a new event below everything
            // stored was the one dropped. Either way, counted.
            #expect(stored + dropped == 120)
            #expect(statistics.dropped[.diskFull] ?? 0 > UInt64(dropped))
            #expect(stored > 60)
            #expect(UInt64(statistics.depth) + statistics.droppedTotal == 120)
        case .dropNewest:
            #expect(dropped > 0)
            #expect(statistics.dropped[.diskFull] == UInt64(dropped))
            #expect(statistics.depth == stored)
        case .block:
            let waiting = try #require(blocked)
            #expect(statistics.blockedEnqueues == 1)
            let received = await drainAll(outbox)
            #expect(try await waiting.value.sequence != nil)
            #expect(received.count == stored + 1)
        }
        // Whatever happened, the outbox still takes and delivers events.
        _ = await drainAll(outbox)
        #expect(try await outbox.enqueue(topic: "t", payload: big).sequence != nil)
        await outbox.close()
    }
}
