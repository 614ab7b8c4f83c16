import Telemetry

/// What kind of abnormal behaviour an event describes.
public enum AnomalyKind: String, Sendable, Codable, CaseIterable {
    case spike
    case dip
    case levelShift = "level_shift"
    case volatilityShift = "volatility_shift"
    case drift
    case stuck
    case outOfRange = "out_of_range"
    case silence
    case oscillation
    case seasonal
    case correlationBreak = "correlation_break"

    /// Words for people: "level shift", "correlation break".
    public var words: String { rawValue.replacingOccurrences(of: "_", with: " ") }
}

public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info
    case warning
    case critical

    public var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// The state of an event in its life: it opens once and resolves once.
public enum EventStage: String, Sendable, Codable {
    case opened
    case resolved
}

/// How a sensor of the same asset stood when the event opened.
public struct RelatedDeviation: Sendable, Codable, Equatable {
    public var sensor: SensorID
    public var value: Double
    public var baseline: Double
    /// `value - baseline`, in the sensor's unit.
    public var deviation: Double
    /// The deviation in robust standard deviations (signed).
    public var score: Double

    public init(sensor: SensorID, value: Double, baseline: Double, deviation: Double, score: Double) {
        self.sensor = sensor
        self.value = value
        self.baseline = baseline
        self.deviation = deviation
        self.score = score
    }
}

/// One point of the bounded, downsampled window of values around an event.
public struct WindowPoint: Sendable, Codable, Equatable {
    /// Milliseconds since the epoch.
    public var t: Int64
    public var v: Double

    public init(t: Int64, v: Double) {
        self.t = t
        self.v = v
    }
}

/// An anomaly on one sensor: what the detector hands to narration and publishing.
public struct AnomalyEvent: Sendable, Codable, Equatable {
    /// Stable for the life of the event: the opened and the resolved message share it.
    public var id: String
    public var stage: EventStage
    public var sensor: SensorID
    public var asset: String
    public var kind: AnomalyKind
    public var severity: Severity
    /// The fused anomaly score in [0, 1] at the peak.
    public var score: Double
    /// Start of the abnormal behaviour (ms since the epoch).
    public var start: Int64
    /// When the event resolved; nil while open.
    public var end: Int64?
    /// The time of the reading that opened (or resolved) the event.
    public var detectedAt: Int64
    /// The value the detector considered normal.
    public var baseline: Double
    /// The most extreme value seen during the event so far.
    public var peak: Double
    /// `peak - baseline`, in the sensor's unit.
    public var deviation: Double
    /// Seconds from start to detection (opened) or to end (resolved).
    public var duration: Double
    /// The engineering limit that was crossed, for out-of-range events.
    public var limit: Double?
    /// Simultaneous deviations of related sensors on the same asset.
    public var related: [RelatedDeviation]
    /// Values around the event, downsampled to a bounded number of points.
    public var window: [WindowPoint]

    public init(
        id: String, stage: EventStage, sensor: SensorID, asset: String, kind: AnomalyKind, severity: Severity,
        score: Double, start: Int64, end: Int64? = nil, detectedAt: Int64, baseline: Double, peak: Double,
        deviation: Double, duration: Double, limit: Double? = nil, related: [RelatedDeviation] = [],
        window: [WindowPoint] = []
    ) {
        self.id = id
        self.stage = stage
        self.sensor = sensor
        self.asset = asset
        self.kind = kind
        self.severity = severity
        self.score = score
        self.start = start
        self.end = end
        self.detectedAt = detectedAt
        self.baseline = baseline
        self.peak = peak
        self.deviation = deviation
        self.duration = duration
        self.limit = limit
        self.related = related
        self.window = window
    }
}
