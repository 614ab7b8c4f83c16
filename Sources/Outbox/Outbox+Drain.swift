import Logging
import VigilSupport

extension Outbox {
    /// Drains the outbox through `transport` while the link is up, until the task is cancelled or
    /// `linkStates` ends. `linkStates` yields true when the upstream link came up and false when it
    /// went down; the link counts as down until the first true. Draining starts at once on a true,
    /// whether or not new events arrive. Only one `run` may be active at a time; a second returns
    /// immediately. (Wrap it in a ServiceLifecycle `Service` with `cancelOnGracefulShutdown()`.)
    public func run(
        transport: some OutboxTransport, linkStates: some AsyncSequence<Bool, Never> & Sendable
    ) async {
        guard running.withLock({ wasRunning in
            defer { wasRunning = true }
            return !wasRunning
        }) else {
            logger.error("Outbox.run called while another run is active; ignored")
            return
        }
        let (bell, bellContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        doorbell.withLock { $0 = bellContinuation }
        let link = LinkState()
        let tick = min(max(configuration.retryDelay, .milliseconds(10)), .seconds(1))

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Link states: record, then wake the drainer. Ends the run when the sequence ends.
                for await up in linkStates {
                    if Task.isCancelled { break }
                    await self.setLink(up, link)
                }
            }
            group.addTask { await self.drain(transport: transport, link: link, bell: bell) }
            group.addTask {
                // A steady tick drives age pruning, backoff and retries while nothing else happens.
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    self.ring()
                }
            }
            _ = await group.next()
            group.cancelAll()
        }
        doorbell.withLock { $0 = nil }
        bellContinuation.finish()
        _ = try? await storage.setLink(up: false)
        running.withLock { $0 = false }
    }

    private func setLink(_ up: Bool, _ link: LinkState) async {
        guard link.state.withLock({ $0.up }) != up else { return }
        do {
            let boundary = try await storage.setLink(up: up)
            link.state.withLock {
                $0.up = up
                $0.generation += 1
                $0.boundary = boundary
            }
            logger.info("Outbox link \(up ? "up" : "down")", metadata: ["path": "\(configuration.path)"])
        } catch {
            logger.error("Outbox could not record the link state", metadata: ["error": "\(error)"])
        }
        ring()
    }

    private func drain(transport: some OutboxTransport, link: LinkState, bell: AsyncStream<Void>) async {
        var bells = bell.makeAsyncIterator()
        var failures = 0
        while !Task.isCancelled {
            let (up, generation, boundary) = link.state.withLock { ($0.up, $0.generation, $0.boundary) }
            guard up else {
                try? await storage.prune()
                if await bells.next() == nil { return }
                continue
            }
            let outcome = await drainRound(
                transport: transport, link: link, generation: generation, boundary: boundary, bells: &bells)
            switch outcome {
            case .stopped: return
            case .linkChanged: failures = 0
            case .failed(let delivered):
                failures = delivered ? 1 : failures + 1
                let delay = backoff(failures)
                warnings.warn("retry", logger, "Outbox send failed; retrying", ["delay": "\(delay)"])
                let clock = ContinuousClock()
                let deadline = clock.now.advanced(by: delay)
                while clock.now < deadline, !Task.isCancelled, link.state.withLock({ $0.generation }) == generation {
                    if await bells.next() == nil { return }
                }
            }
        }
    }

    private func backoff(_ failures: Int) -> Duration {
        var delay = configuration.retryDelay
        for _ in 1..<max(failures, 1) where delay < configuration.maxRetryDelay { delay = delay * 2 }
        return min(delay, configuration.maxRetryDelay)
    }

    private enum RoundOutcome { case stopped, linkChanged, failed(delivered: Bool) }

    /// Sends while the link stays in `generation`: in order, up to `maxInFlight` unacknowledged,
    /// within the byte rate. Acknowledged events are deleted in batches.
    private func drainRound(
        transport: some OutboxTransport, link: LinkState, generation: Int, boundary: Int64,
        bells: inout AsyncStream<Void>.Iterator
    ) async -> RoundOutcome {
        let tracker = InFlight()
        let maxInFlight = configuration.maxInFlight
        let liveFirst = configuration.liveFirst
        var bucket = configuration.maxBytesPerSecond.map { TokenBucket(rate: $0) }
        // Cursors: the last sequence handed over. With liveFirst, events above `boundary` are live.
        var liveCursor = liveFirst ? boundary : 0
        var backlogCursor: Int64 = 0
        var buffer: [OutboxMessage] = []
        var outcome = RoundOutcome.linkChanged
        var storageFailed = false

        await withTaskGroup(of: Void.self) { group in
            issuing: while true {
                if Task.isCancelled {
                    outcome = .stopped
                    break
                }
                if link.state.withLock({ $0.generation }) != generation { break }
                if tracker.state.withLock({ $0.failed }) || storageFailed {
                    outcome = .failed(delivered: false)
                    break
                }
                let (inFlight, ackedCount) = tracker.state.withLock { ($0.inFlight, $0.acknowledged.count) }
                if ackedCount >= 256 || (ackedCount > 0 && inFlight == 0) {
                    if !(await flushAcknowledged(tracker)) { storageFailed = true }
                    continue
                }
                if inFlight >= maxInFlight {
                    if await bells.next() == nil { outcome = .stopped; break }
                    continue
                }
                if buffer.isEmpty {
                    do {
                        let room = maxInFlight - inFlight
                        buffer = try await storage.fetch(after: liveCursor, upTo: .max, limit: room)
                        if liveFirst && buffer.count < room {
                            buffer += try await storage.fetch(
                                after: backlogCursor, upTo: boundary, limit: room - buffer.count)
                        }
                    } catch {
                        warnings.warn("fetch", logger, "Outbox could not read pending events", ["error": "\(error)"], level: .error)
                        storageFailed = true
                        continue
                    }
                    if buffer.isEmpty {
                        try? await storage.prune()
                        if await bells.next() == nil { outcome = .stopped; break }
                        continue
                    }
                }
                let message = buffer.removeFirst()
                if bucket != nil {
                    while let wait = bucket?.take(message.payload.count) {
                        try? await Task.sleep(for: wait)
                        if Task.isCancelled || link.state.withLock({ $0.generation }) != generation {
                            continue issuing
                        }
                    }
                }
                let acknowledgement: OutboxAcknowledgement
                do {
                    acknowledgement = try await transport.send(message)
                } catch {
                    warnings.warn("send", logger, "Outbox send failed", ["sequence": "\(message.sequence)", "error": "\(error)"])
                    tracker.state.withLock {
                        $0.failed = true
                        $0.failures += 1
                    }
                    continue
                }
                let sequence = Int64(message.sequence)
                if liveFirst && sequence <= boundary { backlogCursor = sequence } else { liveCursor = sequence }
                tracker.state.withLock { $0.inFlight += 1 }
                group.addTask {
                    do {
                        try await acknowledgement.wait()
                        tracker.state.withLock {
                            $0.inFlight -= 1
                            $0.acknowledged.append(message.sequence)
                        }
                    } catch {
                        tracker.state.withLock {
                            $0.inFlight -= 1
                            $0.failed = true
                            $0.failures += 1
                        }
                    }
                    self.ring()
                }
            }
            // Stop issuing. On a link change or shutdown, abandon outstanding acknowledgements
            // (those events are sent again); after a failure, let them finish.
            if case .failed = outcome {
                while tracker.state.withLock({ $0.inFlight }) > 0 {
                    if Task.isCancelled || link.state.withLock({ $0.generation }) != generation {
                        group.cancelAll()
                        break
                    }
                    if await bells.next() == nil { break }
                }
            } else {
                group.cancelAll()
            }
            await group.waitForAll()
        }
        let hadDeliveries = tracker.state.withLock { !$0.acknowledged.isEmpty || $0.delivered > 0 }
        _ = await flushAcknowledged(tracker)
        if case .failed = outcome { return .failed(delivered: hadDeliveries) }
        return outcome
    }

    /// Deletes what was acknowledged so far. False when the database refused.
    private func flushAcknowledged(_ tracker: InFlight) async -> Bool {
        let (sequences, failures) = tracker.state.withLock { state -> ([UInt64], UInt64) in
            defer {
                state.delivered += state.acknowledged.count
                state.acknowledged.removeAll(keepingCapacity: true)
                state.failures = 0
            }
            return (state.acknowledged, state.failures)
        }
        do {
            try await storage.deleteAcknowledged(sequences, failures: failures)
            return true
        } catch {
            warnings.warn("delete", logger, "Outbox could not delete acknowledged events; they will be sent again", ["error": "\(error)"],
                          level: .error)
            return false
        }
    }
}

/// The link as the drainer sees it; `generation` changes on every up/down transition.
final class LinkState: Sendable {
    struct State {
        var up = false
        var generation = 0
        var boundary: Int64 = 0
    }
    let state = Locked(State())
}

/// Counts of one drain round, shared with the acknowledgement tasks.
final class InFlight: Sendable {
    struct State {
        var inFlight = 0
        var acknowledged: [UInt64] = []
        var delivered = 0
        var failures: UInt64 = 0
        var failed = false
    }
    let state = Locked(State())
}

/// A token bucket over payload bytes holding one second's worth. A message larger than that
/// goes out when the bucket is full and leaves it in debt.
struct TokenBucket {
    let rate: Int
    private var tokens: Double
    private var last: ContinuousClock.Instant

    init(rate: Int) {
        self.rate = rate
        self.tokens = Double(rate)
        self.last = ContinuousClock.now
    }

    /// Takes `bytes` and returns nil, or returns how long to wait before asking again.
    mutating func take(_ bytes: Int) -> Duration? {
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        let seconds = elapsed / .seconds(1)
        tokens = min(Double(rate), tokens + seconds * Double(rate))
        let needed = Double(min(bytes, rate))
        if tokens >= needed {
            tokens -= Double(bytes)
            return nil
        }
        return .microseconds(Int64(((needed - tokens) / Double(rate) * 1e6).rounded(.up)) + 1)
    }
}
