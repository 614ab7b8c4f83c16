import CSQLite
import Foundation
import Logging

/// Enqueue with group commit, bounds and policies.
extension Storage {
    /// Queues a request for the next group commit; its caller is resumed after the commit.
    func submit(_ request: EnqueueRequest) {
        let schedule = incoming.withLock { state -> Bool in
            state.requests.append(request)
            defer { state.flushQueued = true }
            return !state.flushQueued
        }
        if schedule { thread.submit { self.flush() } }
    }

    func flush() {
        let batch = incoming.withLock { state -> [EnqueueRequest] in
            state.flushQueued = false
            defer { state.requests.removeAll() }
            return state.requests
        }
        let waiting = blocked
        blocked = []
        store(waiting + batch)
    }

    /// Retries blocked requests after room was freed.
    func retryBlocked() {
        guard !blocked.isEmpty else { return }
        let waiting = blocked
        blocked = []
        store(waiting)
    }

    /// A cancelled blocked request leaves the queue.
    func sweepCancelled() {
        thread.submit {
            let (cancelled, kept) = (self.blocked.filter(\.isCancelled), self.blocked.filter { !$0.isCancelled })
            self.blocked = kept
            for request in cancelled { request.finish(.failure(CancellationError())) }
        }
    }

    enum Decision { case fits, drop(OutboxDropReason), block }

    /// Stores requests in one transaction; falls back to one at a time when the disk is full.
    func store(_ requests: [EnqueueRequest]) {
        guard !requests.isEmpty else { return }
        do {
            let outcomes = try storeTransaction(requests)
            writeFailure = nil
            for (request, result) in outcomes { request.finish(result) }
        } catch let error as SQLiteError where error.isFull {
            noteWriteFailure("disk full (\(error))")
            for (index, request) in requests.enumerated() {
                if configuration.fullPolicy == .block && !blocked.isEmpty {
                    blocked.append(contentsOf: requests[index...])
                    return
                }
                storeOneWhenFull(request)
            }
        } catch let error as SQLiteError where error.isDamage {
            // Damage found while writing: move the file aside, then store on the new one.
            recoverFromDamage(error)
            do {
                let outcomes = try storeTransaction(requests)
                for (request, result) in outcomes { request.finish(result) }
            } catch {
                let converted = handle(error)
                for request in requests { request.finish(.failure(converted)) }
            }
        } catch {
            noteWriteFailure("\(error)")
            let converted = handle(error)
            for request in requests { request.finish(.failure(converted)) }
        }
    }

    /// Records a failed write: for `/healthz` (degraded) and one rate-limited log line.
    func noteWriteFailure(_ reason: String) {
        writeFailure = reason
        warnLimited("write", "Outbox cannot write; events are dropped by the full policy and counted", ["reason": "\(reason)"])
    }

    /// A warning at most once every 10 s per `kind`, saying how many like it were held back: a full
    /// disk must not turn into hundreds of log lines a second (themselves filling the disk).
    func warnLimited(_ kind: String, _ message: Logger.Message, _ metadata: Logger.Metadata) {
        let now = ContinuousClock.now
        if let last = warnings[kind], last.at.duration(to: now) < .seconds(10) {
            warnings[kind]?.suppressed += 1
            return
        }
        var metadata = metadata
        if let suppressed = warnings[kind]?.suppressed, suppressed > 0 { metadata["suppressed_since_last"] = "\(suppressed)" }
        warnings[kind] = (now, 0)
        logger.warning(message, metadata: metadata)
    }

    /// The disk is full: make room by the policy, a few times, then give up on this event.
    func storeOneWhenFull(_ request: EnqueueRequest) {
        var victims = 1
        for _ in 0..<8 {
            do {
                let outcomes = try storeTransaction([request])
                writeFailure = nil
                for (request, result) in outcomes { request.finish(result) }
                return
            } catch let error as SQLiteError where error.isFull {
                switch configuration.fullPolicy {
                case .dropNewest:
                    drop(request, .diskFull)
                    return
                case .block:
                    blocked.append(request)
                    return
                case .dropOldestLowestSeverity:
                    guard (try? deleteLowest(count: victims, notAbove: request.severity, reason: .diskFull)) == true else {
                        drop(request, .diskFull)
                        return
                    }
                    victims *= 2
                }
            } catch {
                request.finish(.failure(handle(error)))
                return
            }
        }
        drop(request, .diskFull)
    }

    func drop(_ request: EnqueueRequest, _ reason: OutboxDropReason) {
        counters.dropped[reason, default: 0] += 1
        warnLimited("drop-new-\(reason.rawValue)", "Outbox dropped a new event",
                    ["reason": "\(reason.rawValue)", "topic": "\(request.topic)", "dropped_total": "\(counters.dropped[reason, default: 0])"])
        request.finish(.success(.dropped(reason)))
    }

    /// Deletes up to `count` of the lowest-severity oldest events (in their own transaction).
    func deleteLowest(count: Int, notAbove severity: Int, reason: OutboxDropReason) throws -> Bool {
        let (db, statements) = try database()
        let saved = (rows, bytes, historicalRows, counters)
        var deleted = 0
        do {
            try statements.begin.run()
            for _ in 0..<count {
                guard try deleteVictim(statements, notAbove: severity, reason: reason) else { break }
                deleted += 1
            }
            try statements.commit.run()
        } catch {
            if db.inTransaction { try? statements.rollback.run() }
            (rows, bytes, historicalRows, counters) = saved
            throw error
        }
        return deleted > 0
    }

    /// Deletes the next victim if its severity is not above `severity`. False when none.
    func deleteVictim(_ statements: Statements, notAbove severity: Int, reason: OutboxDropReason) throws -> Bool {
        defer { statements.lowest.reset() }
        guard try statements.lowest.step() else { return false }
        let sequence = statements.lowest.int64(0)
        let victimSeverity = Int(statements.lowest.int64(1))
        statements.lowest.reset()
        guard configuration.fullPolicy != .dropOldestLowestSeverity || victimSeverity <= severity else { return false }
        guard try deleteRow(statements, sequence) else { return false }
        counters.dropped[reason, default: 0] += 1
        warnLimited("drop-stored-\(reason.rawValue)", "Outbox dropped a stored event",
                    ["reason": "\(reason.rawValue)", "sequence": "\(sequence)", "dropped_total": "\(counters.dropped[reason, default: 0])"])
        return true
    }

    /// Deletes one row and keeps the counters. False when it was not there.
    func deleteRow(_ statements: Statements, _ sequence: Int64) throws -> Bool {
        let statement = statements.deleteOne
        defer { statement.reset() }
        statement.bind(1, sequence)
        guard try statement.step() else { return false }
        let wasHistorical = statement.int64(0) != 0
        let size = Int(statement.int64(1))
        while try statement.step() {}
        rows -= 1
        bytes -= size
        if wasHistorical { historicalRows -= 1 }
        return true
    }

    func storeTransaction(
        _ requests: [EnqueueRequest]
    ) throws -> [(EnqueueRequest, Result<OutboxEnqueueResult, any Error>)] {
        let (db, statements) = try database()
        let saved = (rows, bytes, historicalRows, lastSequence, counters)
        var outcomes: [(EnqueueRequest, Result<OutboxEnqueueResult, any Error>)] = []
        var newlyBlocked: [EnqueueRequest] = []
        let now = configuration.now()
        do {
            try statements.begin.run()
            try pruneIfDue(statements, now: now, force: false)
            for request in requests {
                // Only waiting for room is cancellable; an event that fits is committed.
                if !newlyBlocked.isEmpty {
                    if request.isCancelled {
                        outcomes.append((request, .failure(CancellationError())))
                    } else {
                        newlyBlocked.append(request)
                    }
                    continue
                }
                switch try decide(request, statements, now: now) {
                case .block:
                    if request.isCancelled {
                        outcomes.append((request, .failure(CancellationError())))
                    } else {
                        newlyBlocked.append(request)
                    }
                case .drop(let reason):
                    counters.dropped[reason, default: 0] += 1
                    outcomes.append((request, .success(.dropped(reason))))
                case .fits:
                    let historical =
                        !linkUp || (!configuration.liveFirst && historicalRows > 0)
                    let insert = statements.insert
                    if let key = request.key { insert.bind(1, key) }
                    insert.bind(2, request.topic)
                    insert.bind(3, request.payload)
                    insert.bind(4, Int64(request.severity))
                    insert.bind(5, request.createdAt)
                    insert.bind(6, historical ? 1 : 0)
                    insert.bind(7, Int64(request.size))
                    try insert.run()
                    let sequence = db.lastInsertRowID
                    lastSequence = sequence
                    rows += 1
                    bytes += request.size
                    if historical { historicalRows += 1 }
                    counters.enqueued += 1
                    outcomes.append((request, .success(.stored(sequence: UInt64(sequence), historical: historical))))
                }
            }
            try statements.commit.run()
        } catch {
            if db.inTransaction { try? statements.rollback.run() }
            (rows, bytes, historicalRows, lastSequence, counters) = saved
            throw error
        }
        for outcome in outcomes {
            if case .success(.dropped(let reason)) = outcome.1 {
                logger.warning("Outbox dropped a new event", metadata: ["reason": "\(reason.rawValue)", "topic": "\(outcome.0.topic)"])
            }
        }
        blocked.append(contentsOf: newlyBlocked)
        return outcomes
    }

    /// Applies the bounds to one new event, deleting victims inside the open transaction.
    func decide(_ request: EnqueueRequest, _ statements: Statements, now: Int64) throws -> Decision {
        let size = request.size
        if size > configuration.maxBytes { return .drop(.tooLarge) }
        if request.createdAt < cutoff(now) { return .drop(.maxAge) }
        while true {
            let overRows = rows + 1 > configuration.maxRows
            let overBytes = bytes + size > configuration.maxBytes
            guard overRows || overBytes else { return .fits }
            let reason: OutboxDropReason = overRows ? .maxRows : .maxBytes
            switch configuration.fullPolicy {
            case .dropNewest: return .drop(reason)
            case .block: return .block
            case .dropOldestLowestSeverity:
                guard try deleteVictim(statements, notAbove: request.severity, reason: reason) else {
                    return .drop(reason)
                }
            }
        }
    }

    /// Whether expired events should be looked for: at most every tenth of `maxAge`, and at
    /// least every second.
    func pruneDue(now: Int64) -> Bool {
        let interval = min(max(maxAgeMilliseconds / 10, 1), 1000)
        guard let lastPrune, now >= lastPrune else { return true }
        return now &- lastPrune >= interval
    }

    /// Drops expired events when due (or when forced).
    func pruneIfDue(_ statements: Statements, now: Int64, force: Bool) throws {
        guard force || pruneDue(now: now) else { return }
        lastPrune = now
        let statement = statements.prune
        defer { statement.reset() }
        statement.bind(1, cutoff(now))
        var count = 0
        while try statement.step() {
            if statement.int64(0) != 0 { historicalRows -= 1 }
            bytes -= Int(statement.int64(1))
            rows -= 1
            count += 1
        }
        if count > 0 {
            counters.dropped[.maxAge, default: 0] += UInt64(count)
            logger.warning("Outbox dropped expired events", metadata: ["reason": "max_age", "count": "\(count)"])
        }
    }
}
