import Detection
import Telemetry

/// A small deterministic generator (SplitMix64): the same seed gives the same events on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range`.
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }

    /// Log-uniform in `range` (both bounds above zero): small and large magnitudes equally often.
    mutating func logUniform(_ range: ClosedRange<Double>) -> Double {
        let lo = range.lowerBound.squareRoot(), hi = range.upperBound.squareRoot()
        let r = uniform(lo...hi)
        return r * r
    }

    mutating func chance(_ p: Double) -> Bool { uniform(0...1) < p }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}

/// Builds plausible events of every kind and stage for every sensor of a catalog: the material of the
/// training pairs and of the held-out evaluation set. Magnitudes follow each sensor's limits (or its
/// nominal value), directions follow the kind, related sensors come from the same asset.
public struct SyntheticEvents {
    public let catalog: Catalog
    public var variants: Int
    public var stages: [EventStage]
    var rng: SeededGenerator

    public init(catalog: Catalog, seed: UInt64, variants: Int = 3, stages: [EventStage] = [.opened, .resolved]) {
        self.catalog = catalog
        self.variants = variants
        self.stages = stages
        rng = SeededGenerator(seed: seed)
    }

    /// 2026-03-02T00:00:00Z; events start within the following day.
    static let day0: Int64 = 1_772_409_600_000

    public mutating func all() -> [AnomalyEvent] {
        var out: [AnomalyEvent] = []
        for sensor in catalog.sensors {
            for kind in AnomalyKind.allCases {
                for stage in stages {
                    for v in 0..<variants { out.append(event(sensor, kind: kind, stage: stage, variant: v)) }
                }
            }
        }
        return out
    }

    /// The span a sensor's values live in: its limits, or a range around a nominal value.
    static func span(_ s: Sensor) -> (low: Double, high: Double) {
        let low = s.limits.low ?? 0
        let high = s.limits.high ?? max(low + 1, 100)
        return (low, high)
    }

    public mutating func event(_ s: Sensor, kind: AnomalyKind, stage: EventStage, variant: Int) -> AnomalyEvent {
        let (low, high) = Self.span(s)
        let width = high - low
        var step = 1.0
        for _ in 0..<s.decimals { step /= 10 }
        let baseline = low + width * rng.uniform(0.3...0.7)
        // At least a few steps of the sensor's resolution, so the change survives rounding.
        let magnitude = max(step * 3, width * rng.logUniform(0.01...0.35))
        let sign: Double = rng.chance(0.5) ? 1 : -1
        var peak = baseline
        var limit: Double?
        var duration: Double
        switch kind {
        case .spike:
            peak = baseline + magnitude
            duration = rng.uniform(0...20).rounded()
        case .dip:
            peak = baseline - magnitude
            duration = rng.uniform(0...20).rounded()
        case .levelShift, .correlationBreak, .seasonal:
            peak = baseline + sign * magnitude
            duration = rng.uniform(30...1800).rounded()
        case .drift:
            peak = baseline + sign * magnitude
            duration = rng.uniform(600...18000).rounded()
        case .outOfRange:
            let over = max(step * 2, width * rng.logUniform(0.005...0.15))
            if rng.chance(0.5) && s.limits.low != nil {
                limit = low
                peak = low - over
            } else {
                limit = high
                peak = high + over
            }
            duration = rng.uniform(5...900).rounded()
        case .stuck:
            duration = rng.uniform(300...7200).rounded()
        case .silence:
            duration = rng.uniform(20...2400).rounded()
        case .oscillation, .volatilityShift:
            peak = baseline + sign * magnitude
            duration = rng.uniform(30...1200).rounded()
        }
        if stage == .resolved { duration += rng.uniform(30...600).rounded() }
        let start = Self.day0 + Int64(rng.uniform(0...86_000).rounded()) * 1000
        let related = relatedDeviations(of: s, kind: kind)
        let severity: Severity = kind == .outOfRange ? .critical : rng.pick([.info, .warning, .warning, .critical])
        let id = "synthetic-\(s.id.rawValue):\(kind.rawValue):\(stage.rawValue):\(variant)"
        return AnomalyEvent(
            id: id, stage: stage, sensor: s.id, asset: s.asset, kind: kind, severity: severity,
            score: rng.uniform(0.5...1), start: start, end: stage == .resolved ? start + Int64(duration * 1000) : nil,
            detectedAt: start + 2000, baseline: baseline, peak: peak, deviation: peak - baseline, duration: duration,
            limit: limit, related: related, window: [])
    }

    /// Zero to three sensors of the same asset (the catalog's related ones first), some moved, some steady.
    mutating func relatedDeviations(of s: Sensor, kind: AnomalyKind) -> [RelatedDeviation] {
        var pool = s.related.compactMap { catalog.sensor($0) }
        for other in catalog.sensors(of: s.asset) where other.id != s.id && !pool.contains(where: { $0.id == other.id }) {
            pool.append(other)
        }
        let count = min(pool.count, rng.pick([0, 1, 1, 2, 2, 3]))
        var out: [RelatedDeviation] = []
        for r in pool.prefix(count) {
            let (low, high) = Self.span(r)
            let base = low + (high - low) * rng.uniform(0.3...0.7)
            var step = 1.0
            for _ in 0..<r.decimals { step /= 10 }
            let steady = kind == .silence ? rng.chance(0.6) : rng.chance(0.15)
            let dev = steady ? 0 : (rng.chance(0.5) ? 1 : -1) * max(step * 2, (high - low) * rng.logUniform(0.005...0.2))
            out.append(RelatedDeviation(sensor: r.id, value: base + dev, baseline: base, deviation: dev,
                                        score: steady ? 0.1 : rng.uniform(1...6)))
        }
        return out
    }

    /// `count` incidents: on an asset with two sensors or more, a first-out event and one or two events of
    /// other sensors that followed within minutes. Ids `incident-N/K:…` keep each incident's events together
    /// in a file (K = 0 for the first-out one).
    public mutating func incidents(count: Int) -> [[AnomalyEvent]] {
        let assets = catalog.assets.filter { catalog.sensors(of: $0.id).count >= 2 }
        guard !assets.isEmpty else { return [] }
        let kinds: [AnomalyKind] = [.spike, .dip, .levelShift, .drift, .outOfRange, .oscillation, .volatilityShift,
                                    .correlationBreak]
        var out: [[AnomalyEvent]] = []
        for n in 0..<count {
            let asset = assets[n % assets.count]
            var sensors = catalog.sensors(of: asset.id)
            let first = sensors.remove(at: Int(rng.next() % UInt64(sensors.count)))
            var group = [event(first, kind: rng.pick(kinds), stage: .opened, variant: n)]
            var t = group[0].start
            for k in 0..<min(sensors.count, rng.pick([1, 1, 2, 2, 3])) {
                let s = sensors.remove(at: Int(rng.next() % UInt64(sensors.count)))
                var e = event(s, kind: rng.pick(kinds), stage: .opened, variant: n)
                t += Int64(rng.uniform(5...300).rounded()) * 1000
                e.start = t
                e.detectedAt = t + 2000
                e.id = "incident-\(n)/\(k + 1):" + e.id
                group.append(e)
            }
            group[0].id = "incident-\(n)/0:" + group[0].id
            out.append(group)
        }
        return out
    }

    /// Splits events read from a file back into incidents (by the `incident-N/` id prefix); other events
    /// are groups of one.
    public static func regroup(_ events: [AnomalyEvent]) -> [[AnomalyEvent]] {
        var groups: [[AnomalyEvent]] = []
        var index: [String: Int] = [:]
        for e in events {
            if e.id.hasPrefix("incident-"), let slash = e.id.firstIndex(of: "/") {
                let key = String(e.id[..<slash])
                if let i = index[key] { groups[i].append(e) } else { index[key] = groups.count; groups.append([e]) }
            } else {
                groups.append([e])
            }
        }
        return groups
    }
}
