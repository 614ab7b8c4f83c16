/// Alarm-system health the way operators judge it (ISA-18.2, EEMUA 191), from the alerts of a run.
///
/// - rate: alerts opened per 10 minutes, on average over the span and at the worst sliding 10 minutes
///   (about 1 per 10 minutes is acceptable for one operator);
/// - floods: more than 10 alerts opened within 10 minutes; how many separate floods, and the time spent in one;
/// - chattering: alerts of a sensor that opened 3 or more times within 60 s;
/// - standing: alerts open longer than 24 h (at the end of the run, or when they resolved).
/// Feed it every opened and resolved event in time order (`record`), then read `summary(end:)`.
public struct AlarmHealth: Sendable {
    public static let windowMs: Int64 = 600_000
    public static let floodCount = 10
    public static let chatterWindowMs: Int64 = 60_000
    public static let chatterCount = 3
    public static let standingMs: Int64 = 86_400_000

    var openedAt: [Int64] = []
    var openSince: [String: Int64] = [:]
    var sensorOpens: [String: [Int64]] = [:]
    var standingResolved = 0
    var chattering = 0
    var first: Int64?

    public init() {}

    /// One alert message (opened or resolved), in time order.
    public mutating func record(_ event: AnomalyEvent) {
        let t = event.detectedAt
        if first == nil { first = t }
        switch event.stage {
        case .opened:
            openedAt.append(t)
            openSince[event.id] = t
            var opens = sensorOpens[event.sensor.rawValue, default: []]
            opens.append(t)
            opens.removeAll { $0 < t - Self.chatterWindowMs }
            // The alert that makes it the third (or later) within a minute is a chattering one.
            if opens.count >= Self.chatterCount { chattering += 1 }
            sensorOpens[event.sensor.rawValue] = opens
        case .resolved:
            if let since = openSince.removeValue(forKey: event.id), t - since > Self.standingMs { standingResolved += 1 }
        }
    }

    /// The figures over `[first alert or start, end]`.
    public func summary(start: Int64? = nil, end: Int64) -> AlarmHealthSummary {
        var s = AlarmHealthSummary()
        s.alerts = openedAt.count
        let from = start ?? first ?? end
        let span = max(Double(end - from), 1)
        s.averagePer10Minutes = Double(openedAt.count) / span * Double(Self.windowMs)
        // Sliding window over the opening times: the peak count; a flood is a run of openings whose last
        // 10 minutes hold more than 10, and its time is the union of those windows.
        var lo = 0
        var inFlood = false
        var covered: Int64 = 0
        var coverEnd = Int64.min
        for hi in openedAt.indices {
            while openedAt[hi] - openedAt[lo] >= Self.windowMs { lo += 1 }
            let n = hi - lo + 1
            s.peakPer10Minutes = max(s.peakPer10Minutes, n)
            guard n > Self.floodCount else { inFlood = false; continue }
            if !inFlood { inFlood = true; s.floods += 1 }
            let a = max(openedAt[lo], coverEnd), b = openedAt[hi]
            if b > a { covered += b - a }
            coverEnd = max(coverEnd, b)
        }
        s.secondsInFlood = Double(covered) / 1000
        s.chattering = chattering
        s.standing = standingResolved + openSince.values.filter { end - $0 > Self.standingMs }.count
        return s
    }
}

public struct AlarmHealthSummary: Sendable, Equatable {
    public var alerts = 0
    public var averagePer10Minutes = 0.0
    public var peakPer10Minutes = 0
    public var floods = 0
    public var secondsInFlood = 0.0
    public var chattering = 0
    public var standing = 0

    public init() {}

    /// One line for people: `0.12 alerts per 10 min (peak 3), 0 floods (0 s in flood), 0 chattering, 0 standing`.
    public var line: String {
        let avg = (averagePer10Minutes * 100).rounded() / 100
        return "\(avg) alerts per 10 min (peak \(peakPer10Minutes)), \(floods) floods (\(Int(secondsInFlood.rounded())) s in flood), \(chattering) chattering, \(standing) standing (> 24 h)"
    }
}
