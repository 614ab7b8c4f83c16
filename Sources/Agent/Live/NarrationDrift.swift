import Foundation
import Metrics
import Narration
import Synchronization

/// `narration.drift`: the floors under which field narration counts as degraded.
public struct NarrationDriftSettings: Sendable, Equatable {
    /// The rolling window the figures cover.
    public var window: Double = 3600
    /// Below this share of verified model text (of the narrations the model was asked for) the status warns.
    public var minModelShare: Double = 0.5
    /// Above this 95th percentile of narration latency the status warns (default: the narration deadline).
    public var maxLatencyP95: Double?
    /// Fewer narrations than this in the window: too few to judge, no warning.
    public var minNarrations = 10

    public init() {}
}

/// The drift figures of the last window, for the status message (`narration`) and /metrics.
public struct NarrationDriftFigures: Sendable, Codable, Equatable {
    public var windowS: Double
    /// Narrations the model was asked for in the window (by-design template text, such as resolved
    /// events or an asset within its cooldown, is not counted).
    public var narrations: Int
    /// The share of those with verified model text; nil while there are none.
    public var modelShare: Double?
    public var latencyP95Ms: Double?
    /// Template fallbacks in the window by reason: `deadline`, `model_failed`, `no_model`, or
    /// `verifier_<class>` (grammar, names, number_or_unit, direction, ...); `escalated` counts text
    /// the plant's larger model wrote instead.
    public var fallbacks: [String: Int]
    /// Each figure past its floor (`model_share`, `latency_p95`) and what it means, in words; empty
    /// when narration is healthy (or there are too few narrations to judge).
    public var warnings: [DriftWarning]

    public struct DriftWarning: Sendable, Codable, Equatable {
        public var figure: String
        public var text: String
    }

    enum CodingKeys: String, CodingKey {
        case windowS = "window_s", narrations
        case modelShare = "model_share"
        case latencyP95Ms = "latency_p95_ms"
        case fallbacks, warnings
    }
}

/// Rolling narration figures in the field (drift watch, #17): every narrative the publisher sends
/// is recorded; `figures(now:)` gives the window's share of model text, latency p95 and fallbacks by
/// reason, with a warning for each figure past its floor.
public final class NarrationDrift: Sendable {
    struct Sample {
        var at: Double
        var model: Bool
        var latencyMs: Double
        var fallback: String?
    }

    public let settings: NarrationDriftSettings
    private let samples = Mutex<[Sample]>([])
    /// Samples kept at most (a window holds one per alert; alerts are few).
    static let capacity = 20_000

    public init(settings: NarrationDriftSettings) {
        self.settings = settings
    }

    /// The fallback reason class of a narrative, "" for model text, nil when the template was the
    /// design rather than a fallback (not counted).
    public static func classify(_ n: Narrative) -> String? {
        if n.source == .model { return "" }
        if n.source == .escalated { return "escalated" }
        guard let reason = n.reason else { return nil }
        if reason.hasPrefix("verifier: ") {
            return "verifier_" + EvaluationReport.problemClass(String(reason.dropFirst(10))).replacingOccurrences(of: " ", with: "_")
        }
        if reason.hasPrefix("deadline passed") { return "deadline" }
        if reason.hasPrefix("model failed") { return "model_failed" }
        if reason == "no model loaded" { return "no_model" }
        return nil
    }

    /// Records one narrative at `now` (seconds on any monotonic clock); returns its class as `classify`.
    @discardableResult
    public func record(_ n: Narrative, now: Double) -> String? {
        guard let kind = Self.classify(n) else { return nil }
        samples.withLock { s in
            s.append(Sample(at: now, model: kind.isEmpty, latencyMs: n.latencyMs, fallback: kind.isEmpty ? nil : kind))
            if s.count > Self.capacity { s.removeFirst(s.count - Self.capacity) }
        }
        return kind
    }

    public func figures(now: Double) -> NarrationDriftFigures {
        let window = settings.window
        let recent: [Sample] = samples.withLock { s in
            if let keep = s.firstIndex(where: { $0.at > now - window }) { s.removeFirst(keep) } else { s.removeAll() }
            return s
        }
        var fallbacks: [String: Int] = [:]
        for f in recent.compactMap(\.fallback) { fallbacks[f, default: 0] += 1 }
        let share = recent.isEmpty ? nil : Double(recent.filter(\.model).count) / Double(recent.count)
        let p95 = recent.isEmpty ? nil : EvaluationReport.percentile(recent.map(\.latencyMs).sorted(), 95)
        var warnings: [NarrationDriftFigures.DriftWarning] = []
        let span = Self.words(seconds: window)
        if recent.count >= settings.minNarrations {
            if let share, share < settings.minModelShare {
                warnings.append(.init(figure: "model_share", text: "model text for \(Int((share * 100).rounded())) % of \(recent.count) narrations over the last \(span), below the floor of \(Int((settings.minModelShare * 100).rounded())) %"))
            }
            if let limit = settings.maxLatencyP95, let p95, p95 > limit * 1000 {
                warnings.append(.init(figure: "latency_p95", text: "narration latency p95 \(Int(p95.rounded())) ms over the last \(span), above the ceiling of \(Int((limit * 1000).rounded())) ms"))
            }
        }
        return NarrationDriftFigures(windowS: window, narrations: recent.count, modelShare: share.map { ($0 * 1000).rounded() / 1000 },
                                     latencyP95Ms: p95.map { ($0 * 10).rounded() / 10 }, fallbacks: fallbacks, warnings: warnings)
    }

    static func words(seconds: Double) -> String {
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 {
            return seconds == 3600 ? "hour" : "\(Int(seconds / 3600)) hours"
        }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60)) min" }
        return "\(Int(seconds)) s"
    }
}

/// The drift figures on /metrics: rolling gauges, fallbacks by reason, a warning flag per figure.
final class NarrationDriftMetrics: Sendable {
    let modelShare: Gauge
    let latencyP95: Gauge
    let narrations: Gauge
    let modelShareLow: Gauge
    let latencyHigh: Gauge
    let factory: any MetricsFactory
    private let fallbackCounters = Mutex<[String: Counter]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
        modelShare = Gauge(label: "vigil_narration_model_share", dimensions: [], factory: factory)
        latencyP95 = Gauge(label: "vigil_narration_latency_p95_seconds", dimensions: [], factory: factory)
        narrations = Gauge(label: "vigil_narration_window_narrations", dimensions: [], factory: factory)
        modelShareLow = Gauge(label: "vigil_narration_drift_warning", dimensions: [("figure", "model_share")], factory: factory)
        latencyHigh = Gauge(label: "vigil_narration_drift_warning", dimensions: [("figure", "latency_p95")], factory: factory)
    }

    /// Counts one fallback by its reason class (a bounded set: see `NarrationDrift.classify`).
    func countFallback(_ kind: String) {
        let counter = fallbackCounters.withLock { counters in
            if let c = counters[kind] { return c }
            let c = Counter(label: "vigil_narration_fallbacks_total", dimensions: [("reason", kind)], factory: factory)
            counters[kind] = c
            return c
        }
        counter.increment()
    }

    func show(_ f: NarrationDriftFigures) {
        narrations.record(f.narrations)
        if let share = f.modelShare { modelShare.record(share) }
        if let p95 = f.latencyP95Ms { latencyP95.record(p95 / 1000) }
        modelShareLow.record(f.warnings.contains { $0.figure == "model_share" } ? 1 : 0)
        latencyHigh.record(f.warnings.contains { $0.figure == "latency_p95" } ? 1 : 0)
    }
}

/// The drift figures and their metrics together, as the publisher and the status service use them.
struct NarrationDriftWatch: Sendable {
    let drift: NarrationDrift
    let metrics: NarrationDriftMetrics
    let origin = ContinuousClock.now

    var now: Double { (ContinuousClock.now - origin) / .seconds(1) }

    func record(_ n: Narrative) {
        if let kind = drift.record(n, now: now), !kind.isEmpty { metrics.countFallback(kind) }
    }

    /// The window's figures, also shown on /metrics.
    func figures() -> NarrationDriftFigures {
        let f = drift.figures(now: now)
        metrics.show(f)
        return f
    }
}
