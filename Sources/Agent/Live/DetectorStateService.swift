import Dispatch
import Foundation
import Logging
import Metrics
import Outbox
import ServiceLifecycle
import Synchronization
import Telemetry

/// Metrics of the detector state file.
struct DetectorStateMetrics: Sendable {
    /// 1 when this start restored a saved state (no warm-up), else 0.
    let restored: Gauge
    /// Saved states not used, by reason (`version`, `catalog`, `corrupt`, `unreadable`).
    let discarded: [DetectorStateFault: Counter]
    let saves: Counter
    let saveFailures: Counter
    /// When the state was last saved (seconds since 1970).
    let lastSave: Gauge

    init(factory: any MetricsFactory) {
        restored = Gauge(label: "vigil_detector_state_restored", dimensions: [], factory: factory)
        discarded = Dictionary(uniqueKeysWithValues: DetectorStateFault.allCases.map {
            ($0, Counter(label: "vigil_detector_state_discarded_total", dimensions: [("reason", $0.rawValue)], factory: factory))
        })
        saves = Counter(label: "vigil_detector_state_saves_total", dimensions: [], factory: factory)
        saveFailures = Counter(label: "vigil_detector_state_save_failures_total", dimensions: [], factory: factory)
        lastSave = Gauge(label: "vigil_detector_state_last_save_timestamp_seconds", dimensions: [], factory: factory)
    }
}

/// Saves the detector's learned state every `interval` (when readings arrived since the last save)
/// and once more on shutdown, after ingest has stopped. The state is copied under the pipeline's
/// lock (a few KiB per sensor); the file is written and fsynced on a queue of its own, so ingest
/// never waits for the disk.
struct DetectorStateService: Service {
    let file: DetectorStateFile
    let pipeline: SharedPipeline
    /// nil: save on shutdown only.
    let interval: Duration?
    let metrics: DetectorStateMetrics
    let logger: Logger
    /// Told when a save fails (and when one succeeds again), for `/healthz`.
    var health: HealthBoard?
    private let queue = DispatchQueue(label: "vigil-detector-state")
    private let savedProgress = LockedCount()

    init(file: DetectorStateFile, pipeline: SharedPipeline, interval: Duration?, metrics: DetectorStateMetrics, logger: Logger) {
        self.file = file
        self.pipeline = pipeline
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
        savedProgress.set(pipeline.withLock { Self.progress($0.statistics) })
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await Task.sleepUntilShutdown(for: interval ?? .seconds(86_400))
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
            if interval != nil { await save(final: false) }
        }
        await save(final: true)
    }

    /// Grows with every reading and every event, opened (also by the clock: silence) or resolved.
    static func progress(_ s: PipelineStatistics) -> Int { s.readings + s.eventsTotal + s.resolved }

    /// Copies the state under the lock and writes it off the lock. Returns whether a file was written.
    @discardableResult
    func save(final: Bool) async -> Bool {
        let (bytes, progress, readings): ([UInt8]?, Int, Int) = pipeline.withLock { p in
            let progress = Self.progress(p.statistics)
            // Nothing learned and no event since the last save: spare the gateway's flash a write.
            guard progress != savedProgress.value else { return (nil, progress, p.statistics.readings) }
            return (p.detector.saveState(), progress, p.statistics.readings)
        }
        guard let bytes else { return false }
        let file = self.file
        let result: Result<Void, AgentError> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { () throws(AgentError) in try file.save(bytes) }) }
        }
        switch result {
        case .success:
            health?.set("detector_state", nil)
            savedProgress.set(progress)
            metrics.saves.increment()
            metrics.lastSave.record(Double(wallClockMillis()) / 1000)
            let metadata: Logger.Metadata = ["path": "\(file.path)", "bytes": "\(bytes.count)", "readings": "\(readings)"]
            if final { logger.info("detector state saved", metadata: metadata) } else { logger.debug("detector state saved", metadata: metadata) }
            return true
        case .failure(let error):
            health?.set("detector_state", "the detector state cannot be saved: \(error)")
            metrics.saveFailures.increment()
            logger.error("detector state not saved; a restart will mean a new warm-up", metadata: ["error": "\(error)"])
            return false
        }
    }
}

/// The pipeline's progress at the last save (read and written from the service's task and its init).
final class LockedCount: Sendable {
    private let count = Mutex(-1)
    var value: Int { count.withLock { $0 } }
    func set(_ value: Int) { count.withLock { $0 = value } }
}

extension LiveAgent {
    /// Restores the saved detector state (or moves an unusable one aside) and makes the service that
    /// keeps saving it; nil when persistence is off.
    func makeDetectorStateService(factory: any MetricsFactory) -> DetectorStateService? {
        let settings = configuration.detectorState
        guard settings.persist else { return nil }
        let metrics = DetectorStateMetrics(factory: factory)
        let file = DetectorStateFile(path: settings.path)
        let log = logger.with(label: "vigil.detector-state")
        // The systemd unit's StateDirectory exists already; elsewhere (a first run by hand) make it.
        try? FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: file.path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        let outcome = pipeline.withLock { file.restore(into: $0, now: wallClockMillis(), logger: log) }
        switch outcome {
        case .restored: metrics.restored.record(1)
        case .absent:
            metrics.restored.record(0)
            log.info("no saved detector state; the detector warms up", metadata: ["path": "\(file.path)"])
        case .discarded(let fault, _, _):
            metrics.restored.record(0)
            metrics.discarded[fault]?.increment()
        }
        let interval: Duration? = settings.saveInterval > 0 ? .milliseconds(Int64(settings.saveInterval * 1000)) : nil
        return DetectorStateService(file: file, pipeline: pipeline, interval: interval, metrics: metrics, logger: log)
    }
}

extension LiveAgent {
    /// What opening the outbox found: an older file migrated, or a newer release's file kept aside
    /// (after a downgrade; its events wait there for that release). Both happen only at open.
    func recordOutboxSchema(_ outbox: Outbox, factory: any MetricsFactory) async {
        let s = await outbox.statistics()
        Counter(label: "vigil_outbox_newer_schema_files_moved_total", dimensions: [], factory: factory)
            .increment(by: Int64(s.newerSchemaFilesMovedAside))
        Counter(label: "vigil_outbox_schema_migrations_total", dimensions: [], factory: factory)
            .increment(by: Int64(s.schemaMigrations))
    }
}
