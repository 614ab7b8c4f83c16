import Logging
import Outbox
import Testing

/// The far side of the link as a fault scenario sees it: a transport into it, a way to make it
/// unreachable, and what it received. `RecordingTransport` is the in-process one; a peer built
/// from the MQTT client and a real mosquitto (stopped and started again) plugs in the same way.
protocol OutboxPeer: Sendable {
    associatedtype Transport: OutboxTransport
    var transport: Transport { get }
    /// Makes the broker reachable or not (in process: refuse sends; real: stop or start it).
    func setReachable(_ reachable: Bool) async throws
    /// Sequence numbers received upstream, in arrival order, duplicates included.
    func receivedSequences() async -> [UInt64]
}

extension RecordingTransport: OutboxPeer {
    var transport: RecordingTransport { self }
    func setReachable(_ reachable: Bool) async throws { setFailing(!reachable) }
    func receivedSequences() async -> [UInt64] { receivedSequences }
}

enum OutboxScenarios {
    /// Produces `count` events while the peer is unreachable for a stretch, then waits for the
    /// outbox to empty. Checks at-least-once and order: every stored sequence arrived, and the
    /// first arrivals are in sequence order. Returns the stored sequence numbers.
    @discardableResult
    static func orderAndAtLeastOnce(
        peer: some OutboxPeer, configuration: OutboxConfiguration, count: Int = 60, logger: Logger,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [UInt64] {
        let outbox = try await Outbox.open(configuration: configuration, logger: logger)
        let link = LinkSwitch()
        try await peer.setReachable(false)
        let runner = startRun(outbox, peer.transport, link)
        link.up()
        await eventually("link up") { await outbox.statistics().linkUp }
        var stored: [UInt64] = []
        for n in 0..<count {
            let result = try await outbox.enqueue(topic: "t/\(n)", payload: payload("{\"n\":\(n)}"), severity: n % 4)
            stored.append(try #require(result.sequence, sourceLocation: sourceLocation))
            if n == count / 3 { try await peer.setReachable(true) }
        }
        await eventually("all acknowledged", sourceLocation: sourceLocation) { await outbox.statistics().depth == 0 }
        runner.cancel()
        await runner.value
        await outbox.close()

        let received = await peer.receivedSequences()
        var firstArrivals: [UInt64] = []
        var seen = Set<UInt64>()
        for sequence in received where seen.insert(sequence).inserted { firstArrivals.append(sequence) }
        #expect(Set(stored).isSubset(of: seen), "events lost", sourceLocation: sourceLocation)
        #expect(firstArrivals == stored, "out of order", sourceLocation: sourceLocation)
        #expect(stored == stored.sorted(), sourceLocation: sourceLocation)
        return stored
    }
}
