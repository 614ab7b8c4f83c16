import Logging
import VigilSupport

/// Vigil's store-and-forward queue for upstream events, over SQLite.
///
/// **Durability.** The file is in WAL mode with `synchronous = FULL`: `enqueue` returns `.stored`
/// only after the commit holding the event has been written and fsynced, so it survives `kill -9`
/// and power loss. Concurrent `enqueue` calls share one commit (group commit). Deleting an
/// acknowledged event skips the fsync: if that delete is lost, the event is sent again
/// (at-least-once; the idempotency key lets the receiver drop the duplicate).
///
/// **Sequence numbers** are SQLite `AUTOINCREMENT` row ids: increasing, never reused while the
/// file lives, even after rows are deleted. A new file (first start, or one that replaced a
/// damaged file) starts at wall-clock milliseconds × 1000, so numbers keep increasing across a
/// replaced file unless the clock went back or more than 1000 events per millisecond were made.
/// The default idempotency key is `<random id of the file>-<sequence>`: unique even then.
///
/// **Historical.** An event is `historical` when it is not delivered in the same link-up period
/// in which it was produced: it was committed while the link was down (or no `run` was active),
/// or, with `liveFirst == false`, while historical events were still pending (it queues behind
/// them); and every event still pending when the link goes down or the agent restarts becomes
/// historical. With `liveFirst`, events produced while the link is up go out before the backlog.
///
/// **Order.** Events go to the transport in sequence order (live ones first with `liveFirst`),
/// with at most `maxInFlight` unacknowledged. After a failure, sending resumes from the oldest
/// unacknowledged event, so an event may arrive again after later ones; receivers order by
/// `sequence` and drop duplicates by key.
///
/// **Damage.** A file that is not a database, is damaged, or fails `PRAGMA quick_check` on open
/// (or shows damage later) is renamed `<path>.corrupt-<UTC time>` with its -wal and -shm, logged
/// at critical level and counted, and a new file is started.
///
/// **Threads.** Every SQLite call runs on one dedicated thread, never on the cooperative pool.
///
/// Usage (the agent's side; the transport is the only place that knows MQTT):
/// ```swift
/// struct UpstreamTransport: OutboxTransport {
///     let client: MQTTClient
///     func send(_ m: OutboxMessage) async throws -> OutboxAcknowledgement {
///         let body = m.jsonObjectBody() ?? m.payload          // splices sequence, key, historical
///         let pending = try client.publish(m.topic, body, qos: 1)  // queued in call order
///         return OutboxAcknowledgement { try await pending.acknowledged() }  // PUBACK
///     }
/// }
/// let outbox = try await Outbox.open(configuration: .init(path: "/var/lib/vigil/outbox.db"), logger: logger)
/// try await outbox.enqueue(topic: "vigil/site/agent/events", payload: eventJSON, severity: 2, key: eventID)
/// await outbox.run(transport: UpstreamTransport(client: client), linkStates: client.connectionStates)
/// ```
public final class Outbox: Sendable {
    public let configuration: OutboxConfiguration
    let storage: Storage
    let logger: Logger
    /// Wakes the drainer of the active `run` (enqueue, link change, acknowledgement, ticks).
    let doorbell = Locked<AsyncStream<Void>.Continuation?>(nil)
    let running = Locked(false)
    /// The drainer's repeated warnings, at most one line per kind every 10 s.
    let warnings = WarningLimiter()

    private init(configuration: OutboxConfiguration, storage: Storage, logger: Logger) {
        self.configuration = configuration
        self.storage = storage
        self.logger = logger
    }

    deinit {
        // Without `close`, still release the file and the thread (everything committed is safe).
        storage.closeDetached()
    }

    /// Opens (or creates) the database at `configuration.path`, moving a damaged file aside.
    /// Throws `OutboxError.invalidConfiguration` or `.cannotOpen`, never for a damaged file.
    public static func open(configuration: OutboxConfiguration, logger: Logger) async throws -> Outbox {
        try configuration.validate()
        let storage = Storage(configuration: configuration, logger: logger)
        do {
            try await storage.thread.run { try storage.open() }
        } catch {
            await storage.close()
            throw error
        }
        let outbox = Outbox(configuration: configuration, storage: storage, logger: logger)
        let statistics = await storage.statistics()
        logger.info(
            "Outbox opened",
            metadata: [
                "path": "\(configuration.path)", "depth": "\(statistics.depth)",
                "next_sequence": "\(statistics.nextSequence)",
            ])
        return outbox
    }

    /// Stores one event durably and returns once its commit is on disk (or it was dropped by the
    /// configured policy, which is counted). Under `.block` it waits for room; cancelling the
    /// task while it waits for room throws `CancellationError` and stores nothing. An event that
    /// fits is committed even if the task is cancelled meanwhile (shutdown loses nothing).
    ///
    /// - Parameters:
    ///   - topic: where the transport should publish it.
    ///   - payload: the event body, stored and handed back unchanged (see `OutboxMessage.jsonObjectBody`).
    ///   - severity: larger is more important; the default policy drops the lowest first.
    ///   - key: the idempotency key; nil for `<file id>-<sequence>`.
    ///   - createdAt: production time in ms since 1970; nil for now.
    @discardableResult
    public func enqueue(
        topic: String, payload: [UInt8], severity: Int = 0, key: String? = nil, createdAt: Int64? = nil
    ) async throws -> OutboxEnqueueResult {
        let request = EnqueueRequest(
            topic: topic, payload: payload, severity: severity, key: key,
            createdAt: createdAt ?? configuration.now())
        let storage = self.storage
        let result = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                request.attach(continuation)
                storage.submit(request)
            }
        } onCancel: {
            request.cancel()
            storage.sweepCancelled()
        }
        if case .stored = result { ring() }
        return result
    }

    /// A snapshot of depth, bytes, ages and counters, for metrics and status.
    public func statistics() async -> OutboxStatistics {
        await storage.statistics()
    }

    /// Closes the database. Call after `run` has returned. Later calls fail with `.closed`.
    public func close() async {
        await storage.close()
        logger.info("Outbox closed", metadata: ["path": "\(configuration.path)"])
    }

    func ring() {
        _ = doorbell.withLock { $0?.yield() }
    }
}
