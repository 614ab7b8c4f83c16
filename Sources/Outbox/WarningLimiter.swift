import Logging
import VigilSupport

/// Repeated warnings (a send failing again and again while the disk is full or the link flaps)
/// become one line per kind every `interval`, saying how many like it were held back: thousands
/// of identical lines hide what happened and fill the disk that is already full.
final class WarningLimiter: Sendable {
    private let state = Locked<[String: (at: ContinuousClock.Instant, suppressed: Int)]>([:])
    let interval: Duration

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    func warn(_ kind: String, _ logger: Logger, _ message: Logger.Message, _ metadata: Logger.Metadata,
              level: Logger.Level = .warning) {
        let now = ContinuousClock.now
        let held: Int? = state.withLock { entries in
            if let last = entries[kind], last.at.duration(to: now) < interval {
                entries[kind]?.suppressed += 1
                return nil
            }
            let suppressed = entries[kind]?.suppressed ?? 0
            entries[kind] = (now, 0)
            return suppressed
        }
        guard let held else { return }
        var metadata = metadata
        if held > 0 { metadata["suppressed_since_last"] = "\(held)" }
        logger.log(level: level, message, metadata: metadata)
    }
}
