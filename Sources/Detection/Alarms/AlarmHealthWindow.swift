/// Alarm health as it stands now, for a running agent: `AlarmHealth`'s figures over a sliding window
/// in bounded memory (the openings of the last 10 minutes, at most `capacity`; the recent openings of
/// each sensor that alerted; the open alerts).
///
/// - `recent`: alerts opened in the last 10 minutes (about 1 is acceptable for one operator);
/// - `inFlood` / `floods`: more than 10 of them now / how many times that began;
/// - `chattering`: alerts that were a sensor's third (or later) opening within 60 s;
/// - `standing`: alerts open for more than 24 h now.
/// Times are milliseconds since the epoch, non-decreasing in practice (a time before the last is taken
/// as the last).
public struct AlarmHealthWindow: Sendable {
    public static let capacity = 100_000

    private var openings: [Int64] = []
    private var head = 0
    private var openSince: [String: Int64] = [:]
    private var sensorOpens: [String: [Int64]] = [:]
    private var latest = Int64.min
    private var pruneAbove = 1024
    public private(set) var floods = 0
    public private(set) var chattering = 0
    public private(set) var inFlood = false

    public init() {}

    /// One opened or resolved alert, raised at `now`.
    public mutating func record(_ event: AnomalyEvent, at now: Int64) {
        let t = max(now, latest)
        latest = t
        switch event.stage {
        case .opened:
            if openings.count - head >= Self.capacity { head += 1 }
            openings.append(t)
            openSince[event.id] = t
            var opens = sensorOpens[event.sensor.rawValue, default: []]
            opens.removeAll { $0 < t - AlarmHealth.chatterWindowMs }
            opens.append(t)
            if opens.count >= AlarmHealth.chatterCount { chattering += 1 }
            sensorOpens[event.sensor.rawValue] = opens.suffix(AlarmHealth.chatterCount)
        case .resolved:
            openSince.removeValue(forKey: event.id)
        }
        advance(to: t)
    }

    /// Moves the window to `now`: the openings older than 10 minutes leave it.
    public mutating func advance(to now: Int64) {
        let t = max(now, latest)
        latest = t
        while head < openings.count, openings[head] <= t - AlarmHealth.windowMs { head += 1 }
        if head > 1024, head * 2 > openings.count {
            openings.removeFirst(head)
            head = 0
        }
        let flooding = recent > AlarmHealth.floodCount
        if flooding && !inFlood { floods += 1 }
        inFlood = flooding
        // Sensors whose last opening is over a minute old are forgotten, now and then (amortised).
        if sensorOpens.count > pruneAbove {
            sensorOpens = sensorOpens.filter { $0.value.last.map { $0 > t - AlarmHealth.chatterWindowMs } ?? false }
            pruneAbove = 2 * sensorOpens.count + 1024
        }
    }

    /// Alerts opened in the last 10 minutes.
    public var recent: Int { openings.count - head }

    /// Alerts open for more than 24 h at `now`.
    public func standing(at now: Int64) -> Int {
        openSince.values.reduce(0) { $0 + (now - $1 > AlarmHealth.standingMs ? 1 : 0) }
    }
}
