#if canImport(Glibc)
import Glibc
#endif
import Detection
import Foundation
import Logging
import Telemetry
import VigilSupport

/// Why a saved detector state was not used.
public enum DetectorStateFault: String, Sendable, CaseIterable {
    /// Written by a release with another state layout (an upgrade or a downgrade that changed it).
    case version
    /// Saved for another catalog: sensors, periods, limits or detector tuning changed.
    case catalog
    /// Truncated, damaged, far too large, or not a detector state at all.
    case corrupt
    /// Could not be read (permissions, I/O error, not a regular file).
    case unreadable
}

/// What happened to the saved detector state when the agent started.
public enum DetectorStateLoad: Sendable, Equatable {
    /// No saved state: a first start (warm-up as usual).
    case absent
    /// Restored: no warm-up. `savedAt` is when the file was written (ms since 1970).
    case restored(sensors: Int, savedAt: Int64)
    /// Not usable: moved aside to `movedTo` (nil when even that failed); the detector starts afresh.
    case discarded(DetectorStateFault, detail: String, movedTo: String?)
}

/// The detector's learned state on disk (`<state_dir>/detector.state`), in the layout of
/// `PlantDetector.saveState()`: magic, layout version, catalog fingerprint, data, checksum.
///
/// Writes are atomic: a temporary file in the same folder is written and fsynced, renamed over the
/// old one, and the folder is fsynced, so after a crash or power loss the file is the old state or
/// the new one, never a mix. A state that cannot be used is renamed `detector.state.bad-<UTC time>`
/// (kept for a post-mortem), logged, and the detector warms up afresh: a bad file never stops the
/// agent and never makes it crash in a loop.
public struct DetectorStateFile: Sendable {
    public let path: String

    /// A state larger than this is refused unread, so a damaged or hostile file cannot exhaust the
    /// gateway's memory: 64 KiB a sensor (a state needs about 4 KiB, plus an open event), at least 1 MiB.
    public static func maximumBytes(sensors: Int) -> Int {
        min(max(1 << 20, sensors * (64 << 10)), 1 << 30)
    }

    public init(path: String) {
        self.path = path
    }

    // MARK: - Writing

    /// Replaces the file with `bytes`, atomically and durably.
    public func save(_ bytes: [UInt8]) throws(AgentError) {
        do {
            try SystemCalls.writeAtomically(bytes, to: path)
        } catch {
            throw AgentError("cannot save the detector state to \(path): \(error)")
        }
    }

    // MARK: - Reading

    /// Restores the saved state into `pipeline`'s detector, or moves an unusable file aside.
    /// After a restore, silence detection is held for `silenceHold` ms from `now`: a sensor is not
    /// called silent for the time the agent itself was down (see `Pipeline.silenceHeldUntil`).
    public func restore(into pipeline: Pipeline, now: Int64, logger: Logger) -> DetectorStateLoad {
        let outcome = restore(into: pipeline.detector, logger: logger)
        if case .restored = outcome {
            pipeline.silenceHeldUntil = now &+ Self.silenceHold(catalog: pipeline.catalog,
                                                                configuration: pipeline.detector.configuration)
        }
        return outcome
    }

    /// Restores the saved state into `detector`, or moves an unusable file aside (logged).
    public func restore(into detector: PlantDetector, logger: Logger) -> DetectorStateLoad {
        removeLeftovers(logger: logger)
        let status: (isRegular: Bool, size: Int64)
        switch SystemCalls.fileStatus(path) {
        case .success(let found): status = found
        case .failure(let error):
            if error.errno == ENOENT { return .absent }
            return discard(.unreadable, "cannot stat: \(error.reason)", logger: logger)
        }
        guard status.isRegular else { return discard(.unreadable, "not a regular file", logger: logger) }
        let limit = Self.maximumBytes(sensors: detector.catalog.sensors.count)
        guard status.size <= limit else {
            return discard(.corrupt, "\(status.size) bytes, more than the \(limit) a state of this catalog may have",
                           logger: logger)
        }
        let bytes: [UInt8]
        do { bytes = try SystemCalls.readFile(path) } catch {
            return discard(.unreadable, "cannot read: \(error.reason)", logger: logger)
        }
        if let fault = Self.headerFault(bytes, catalog: detector.catalog) {
            return discard(fault.0, fault.1, logger: logger)
        }
        do {
            try detector.restoreState(bytes)
        } catch {
            return discard(.corrupt, "\(error)", logger: logger)
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
        let savedAt = Int64(((modified ?? Date()).timeIntervalSince1970 * 1000).rounded())
        logger.info("detector state restored; no warm-up needed", metadata: [
            "path": "\(path)", "sensors": "\(detector.catalog.sensors.count)", "bytes": "\(bytes.count)",
            "saved_at": "\(Timestamp.rfc3339(savedAt))",
        ])
        return .restored(sensors: detector.catalog.sensors.count, savedAt: savedAt)
    }

    /// Removes temporary files of saves cut short by a crash or power loss (`<path>.tmp-<pid>`).
    func removeLeftovers(logger: Logger) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + ".tmp-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(prefix) {
            if (try? SystemCalls.remove("\(folder)/\(name)")) != nil {
                logger.notice("removed the temporary file of an unfinished detector state save", metadata: ["file": "\(folder)/\(name)"])
            }
        }
    }

    /// Classifies a file by its header: another layout version or another catalog; nil when both
    /// match (the rest is checked by `restoreState`).
    static func headerFault(_ bytes: [UInt8], catalog: Catalog) -> (DetectorStateFault, String)? {
        func word(at offset: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
            return v
        }
        guard bytes.count >= 4, bytes[0..<4].elementsEqual("VGDS".utf8) else {
            return (.corrupt, "not a Vigil detector state (\(bytes.count) bytes, no VGDS magic)")
        }
        guard bytes.count >= 28 else { return (.corrupt, "truncated to \(bytes.count) bytes") }
        let version = Int64(bitPattern: word(at: 4))
        guard version == Int64(PlantDetector.stateVersion) else {
            return (.version, "state layout version \(version); this vigil reads version \(PlantDetector.stateVersion)")
        }
        let fingerprint = word(at: 12)
        let expected = PlantDetector.fingerprint(of: catalog)
        guard fingerprint == expected else {
            return (.catalog, String(format: "saved for another catalog (fingerprint %016llx, the catalog's is %016llx)",
                                     fingerprint, expected))
        }
        return nil
    }

    /// Renames the file `<path>.bad-<UTC time>` and logs why.
    func discard(_ fault: DetectorStateFault, _ detail: String, logger: Logger) -> DetectorStateLoad {
        let target = AsidePath.next(for: path, tag: "bad")
        var movedTo: String? = target
        var moveError = ""
        do {
            try SystemCalls.rename(path, to: target)
        } catch {
            moveError = error.reason
            movedTo = nil
        }
        logger.error("saved detector state not used; the detector warms up afresh", metadata: [
            "path": "\(path)", "reason": "\(fault.rawValue)", "detail": "\(detail)",
            "moved_to": "\(movedTo ?? "(not moved: \(moveError))")",
        ])
        return .discarded(fault, detail: detail, movedTo: movedTo)
    }

    /// How long silence detection waits after a restore (ms): the longest silence limit of any sensor
    /// (sensors without a declared sample period count as one reading a minute), at most one hour.
    public static func silenceHold(catalog: Catalog, configuration: DetectorConfiguration) -> Int64 {
        var longest = configuration.minimumSilenceSeconds
        for sensor in catalog.sensors where sensor.detectors["silence"]?.enabled ?? true {
            let period = sensor.samplePeriod > 0 && sensor.samplePeriod.isFinite ? sensor.samplePeriod : 60
            longest = max(longest, configuration.silencePeriods * period)
        }
        guard longest.isFinite else { return 3_600_000 }
        return Int64(min(max(longest, 0), 3600) * 1000)
    }
}
