import Telemetry

/// Plant-wide settings of the detector: warm-up, the event thresholds and the size of event windows.
///
/// Scores are calibrated tail probabilities on a log scale: a score `s` means the reading is as unusual
/// as a `10^(-10 s)` tail event (after a Bonferroni correction over the detectors that ran), so 0.5 is a
/// one-in-100 000 reading and 1 is one in 10^10 or an engineering-limit violation, on every sensor alike.
public struct DetectorConfiguration: Sendable, Equatable {
    /// Readings a sensor must have before it may score or raise events (its baseline is learned meanwhile).
    public var warmUpReadings: Int = 300
    /// ...or, for slow sensors, this much time since their first reading once they have `minimumWarmUpReadings`
    /// (infinity: readings alone decide, as `vigil score` does).
    public var warmUpSeconds: Double = 600
    public var minimumWarmUpReadings: Int = 60
    /// An event opens when the score reaches this: 0.6 is a one-in-a-million reading (after the Bonferroni
    /// correction), so a plant of 20 sensors read every 2 s sees a chance alarm about once in a day, not hourly.
    public var openThreshold: Double = 0.6
    /// An open event counts as quiet while the score stays below this (hysteresis).
    public var closeThreshold: Double = 0.25
    /// Quiet readings in a row, after which an open event resolves.
    public var quietReadings: Int = 10
    /// Quiet time (seconds) that must also pass before an event resolves (0: readings alone decide).
    public var quietSeconds: Double = 0
    /// Readings after a resolved event during which the same sensor opens no new event.
    public var cooldownReadings: Int = 20
    /// Largest number of points in an event's downsampled window (at most 60).
    public var windowPoints: Int = 60
    /// A sensor is silent after this many sample periods without a reading.
    public var silencePeriods: Double = 5
    /// ...and never before this many seconds without a reading.
    public var minimumSilenceSeconds: Double = 5
    /// Events whose peak score reaches this are critical (limit violations always are).
    public var criticalScore: Double = 0.8
    /// Readings of the slow baseline's memory (the level and spread the detector calls normal).
    public var baselineReadings: Int = 400
    /// Readings of the calibration's memory once it has seen its first 200 (how fast the sense of "how unusual"
    /// adapts; slow, so that an anomaly creeping in does not become the norm).
    public var calibrationReadings: Int = 1000
    /// Fraction of the normal baseline learning rate used while a sensor is abnormal (0 freezes it).
    public var abnormalLearningFactor: Double = 0.25
    /// Readings an event may stay open before the detector accepts the sensor's present level and spread as
    /// its new normal (a setpoint change, a new operating point); the event then resolves once quiet.
    public var relearnReadings: Int = 600

    public init() {}
}

/// Detector names, as the catalog spells them.
enum DetectorName {
    static let limits = "limits"
    static let spike = "spike"
    static let levelShift = "level_shift"
    static let volatilityShift = "volatility_shift"
    static let drift = "drift"
    static let stuck = "stuck"
    static let silence = "silence"
    static let seasonal = "seasonal"
    static let correlation = "correlation"
}

/// The detectors, as the fusion and event assembly index them.
enum DetectorKind: Int, Sendable {
    case none = 0
    case limits
    case spike
    case levelShift
    case volatilityShift
    case drift
    case stuck
    case silence
    case seasonal
    case correlation
}

/// What a sensor's alarms do when its catalog entry has no `alarm:` block.
public enum AlarmDefaults {
    /// A limit alert clears once the reading is back inside by this share of the span between the limits
    /// (ISA-18.2 suggests 1-5 % by measurement; 1 % suits the fastest, flow and pressure). No deadband without
    /// both limits: a span is what makes the figure mean the same on every sensor.
    public static let deadbandShareOfSpan = 0.01
    /// Three openings within 60 s is chattering (EEMUA 191): an alert opening within 60 s of the previous one
    /// stays open until 60 s after that one, so there is no third.
    public static let chatterCount = 3
    public static let chatterWindowSeconds = 60.0
}

/// One sensor's detector settings, resolved once from the catalog into plain numbers.
struct SensorSettings: Sendable, Equatable {
    var limitsOn = true
    var low = -Double.infinity
    var high = Double.infinity
    var spikeOn = true
    /// Learning rate of the one-step level that spikes are measured against.
    var spikeAlpha = 0.3
    var levelOn = true
    var recentWindow = 8
    var referenceWindow = 32
    var volatilityOn = true
    var volatilityWindow = 32
    var driftOn = true
    var stuckOn = true
    /// Largest change that still counts as "the same value" for stuck detection.
    var stuckTolerance = 0.0
    /// Readings in a row that are always enough to call a sensor stuck, whatever its history.
    var stuckMinimumRun = 3
    var silenceOn = true
    /// Sample period in milliseconds (0: learned from the data).
    var periodMs = 0.0
    var seasonalOn = false
    /// Season length in milliseconds (0: no seasonal detector).
    var seasonMs = 0.0
    var seasonBins = 0
    /// No period configured: look for one in the data (`SeasonSearch`), then run the seasonal detector on it.
    var seasonSearch = false
    var correlationOn = true
    var minimumCorrelation = 0.8
    /// Per-detector `sensitivity` (multiplies its evidence; above 1: more sensitive).
    var spikeGain = 1.0
    var levelGain = 1.0
    var volatilityGain = 1.0
    var driftGain = 1.0
    var seasonalGain = 1.0
    var correlationGain = 1.0
    /// Alarm management (`alarm:` in the catalog): on-delay and off-delay (ms), the limits' deadband (units),
    /// and chattering: an alert opening with `chatterCount - 1` openings within `chatterWindowMs` latches (0: never).
    var onDelayMs = 0.0
    var offDelayMs = 0.0
    var deadband = 0.0
    var chatterCount = AlarmDefaults.chatterCount
    var chatterWindowMs = AlarmDefaults.chatterWindowSeconds * 1000

    init() {}

    init(sensor: Sensor) {
        periodMs = sensor.samplePeriod > 0 && sensor.samplePeriod.isFinite ? min(sensor.samplePeriod, 3.2e8) * 1000 : 0
        let d = sensor.detectors
        func on(_ name: String, _ fallback: Bool = true) -> Bool { d[name]?.enabled ?? fallback }
        func parameter(_ name: String, _ key: String) -> Double? { d[name]?.parameters[key] }
        func window(_ value: Double?, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
            guard let value, value.isFinite else { return fallback }
            let clamped = min(max(value.rounded(), Double(range.lowerBound)), Double(range.upperBound))
            return Int(clamped)
        }

        limitsOn = on(DetectorName.limits)
        if let low = parameter(DetectorName.limits, "low") ?? sensor.limits.low { self.low = low }
        if let high = parameter(DetectorName.limits, "high") ?? sensor.limits.high { self.high = high }

        spikeOn = on(DetectorName.spike)
        if let a = parameter(DetectorName.spike, "alpha"), a > 0, a < 1 { spikeAlpha = a }

        levelOn = on(DetectorName.levelShift)
        recentWindow = window(parameter(DetectorName.levelShift, "recent"), 8, 2...32)
        referenceWindow = window(parameter(DetectorName.levelShift, "reference"), 32, 4...64)

        volatilityOn = on(DetectorName.volatilityShift)
        volatilityWindow = window(parameter(DetectorName.volatilityShift, "window"), 32, 4...64)

        driftOn = on(DetectorName.drift)

        stuckOn = on(DetectorName.stuck)
        if let t = parameter(DetectorName.stuck, "tolerance"), t >= 0, t.isFinite { stuckTolerance = t }
        stuckMinimumRun = window(parameter(DetectorName.stuck, "readings"), 0, 0...1_000_000)
        if stuckMinimumRun == 0 { stuckMinimumRun = Int.max }

        silenceOn = on(DetectorName.silence)

        if let period = parameter(DetectorName.seasonal, "period"), period.isFinite, period > 0 {
            seasonalOn = on(DetectorName.seasonal)
            // One second to ten years: outside that a season means nothing (and would not fit the arithmetic).
            seasonMs = min(max(period, 1), 3.2e8) * 1000
            let perPeriod = periodMs > 0 ? min(seasonMs / periodMs, 96) : 96
            seasonBins = window(parameter(DetectorName.seasonal, "bins"), max(4, Int(perPeriod)), 4...128)
        } else {
            // `detect: 0` keeps the seasonal detector off unless a period is configured.
            seasonSearch = on(DetectorName.seasonal) && parameter(DetectorName.seasonal, "detect") != 0
        }

        correlationOn = on(DetectorName.correlation)
        if let c = parameter(DetectorName.correlation, "min_correlation"), c > 0, c < 1 { minimumCorrelation = c }

        func gain(_ name: String) -> Double {
            guard let g = parameter(name, "sensitivity"), g.isFinite, g > 0 else { return 1 }
            return min(g, 100)
        }
        spikeGain = gain(DetectorName.spike)
        levelGain = gain(DetectorName.levelShift)
        volatilityGain = gain(DetectorName.volatilityShift)
        driftGain = gain(DetectorName.drift)
        seasonalGain = gain(DetectorName.seasonal)
        correlationGain = gain(DetectorName.correlation)
        log10TestCount = TailProbability.log10Of(testCount)

        let alarm = sensor.alarm ?? AlarmSettings()
        onDelayMs = (alarm.onDelay ?? 0) * 1000
        offDelayMs = (alarm.offDelay ?? 0) * 1000
        if let d = alarm.deadband {
            deadband = d
        } else if low.isFinite, high.isFinite {
            deadband = AlarmDefaults.deadbandShareOfSpan * (high - low)
        }
        chatterCount = alarm.chatterCount ?? AlarmDefaults.chatterCount
        chatterWindowMs = (alarm.chatterWindow ?? AlarmDefaults.chatterWindowSeconds) * 1000
    }

    /// log10 of the Bonferroni factor, set once (and again when a season is detected).
    var log10TestCount = 0.0

    /// Size of the season buffer: the configured bins, or the search window (which becomes the profile).
    var seasonCapacity: Int { seasonSearch ? SeasonSearch.window : (seasonalOn ? seasonBins : 0) }

    /// Switches the seasonal detector on for a season found in the data.
    mutating func useDetectedSeason(milliseconds: Double, bins: Int) {
        seasonalOn = true
        seasonMs = milliseconds
        seasonBins = bins
        log10TestCount = TailProbability.log10Of(testCount)
    }

    /// How many detectors take part in the fusion (the Bonferroni factor).
    var testCount: Double {
        var n = 0
        if spikeOn { n += 1 }
        if levelOn { n += 1 }
        if volatilityOn { n += 1 }
        if driftOn { n += 1 }
        if stuckOn { n += 1 }
        if seasonalOn { n += 1 }
        if correlationOn { n += 1 }
        return Double(max(n, 1))
    }
}
