import Detection
import Telemetry

/// Which way a value moved.
public enum Direction: String, Sendable, Codable, Equatable {
    case up
    case down
    case none
}

/// One number Vigil itself formatted, with the unit and the sensor it belongs to.
/// The verifier accepts a number in text only if it is one of these.
public struct FactNumber: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable {
        case baseline, peak, deviation, limit, duration
        case relatedValue = "related_value"
        case relatedBaseline = "related_baseline"
        case relatedDeviation = "related_deviation"
    }

    public var role: Role
    /// The sensor the number is said of; nil for the duration.
    public var sensor: SensorID?
    /// The value as written (rounded; deviations as magnitudes).
    public var value: Double
    /// The text Vigil writes for it (`18.1`).
    public var text: String
    public var unit: String
    public var decimals: Int

    public init(role: Role, sensor: SensorID?, value: Double, decimals: Int, unit: String) {
        self.role = role
        self.sensor = sensor
        self.decimals = decimals
        self.text = NumberFormat.fixed(value, decimals: decimals)
        self.value = Double(self.text) ?? value
        self.unit = unit
    }

    /// `18.1 A`, or the bare number for unitless sensors.
    public var withUnit: String { unit.isEmpty ? text : "\(text) \(unit)" }
}

/// How a related sensor of the same asset stood when the event opened.
public struct RelatedFact: Sendable, Codable, Equatable {
    public var sensor: SensorID
    public var name: String
    public var unit: String
    public var value: FactNumber
    public var baseline: FactNumber
    /// The magnitude of the deviation; `direction` carries its sign.
    public var deviation: FactNumber
    public var direction: Direction
}

/// What Vigil knows about an event, formatted by Vigil from the event and the catalog:
/// the only material the prompt, the template and the verifier work from.
public struct Facts: Sendable, Codable, Equatable {
    public var eventID: String
    public var stage: EventStage
    public var kind: AnomalyKind
    public var severity: Severity
    public var assetID: String
    /// The asset's sanitised name (`Pump P-101`).
    public var asset: String
    public var assetKind: String
    public var sensorID: SensorID
    /// The sensor's sanitised name (`P-101 motor current`).
    public var sensor: String
    public var unit: String
    public var decimals: Int
    /// Start of the abnormal behaviour, ms since the epoch, and as `03:12:05 UTC`.
    public var start: Int64
    public var startText: String
    public var duration: FactNumber
    public var baseline: FactNumber
    public var peak: FactNumber
    /// Magnitude of `peak - baseline`; `direction` carries its sign.
    public var deviation: FactNumber
    public var limit: FactNumber?
    public var direction: Direction
    public var related: [RelatedFact]
    /// Hedged causes the catalog lists for this asset and kind (sanitised).
    public var causes: [String]
    /// Set when these facts are an incident's (see `Incident`): `related` are then the sensors that followed
    /// the first-out one, in order.
    public var incident: IncidentInfo?

    /// Every number the text may contain.
    public var numbers: [FactNumber] {
        var all = [duration, baseline, peak, deviation]
        if let limit { all.append(limit) }
        for r in related { all += [r.value, r.baseline, r.deviation] }
        return all
    }

    /// The sensors the text may name, with their names: the event's sensor first.
    public var sensorNames: [(id: SensorID, name: String)] {
        [(sensorID, sensor)] + related.map { ($0.sensor, $0.name) }
    }

    /// The most related sensors kept in facts (by the size of their deviation).
    public static let maxRelated = 3

    /// Builds the facts of `event`. Names and units come from the catalog (sanitised), never from the event,
    /// except for a sensor or asset missing from the catalog, whose sanitised identifier is used.
    public init(event: AnomalyEvent, catalog: Catalog) {
        let sensorInfo = catalog.sensor(event.sensor)
        let assetInfo = catalog.asset(event.asset) ?? sensorInfo.flatMap { catalog.asset($0.asset) }
        eventID = event.id
        stage = event.stage
        kind = event.kind
        severity = event.severity
        assetID = Sanitizer.name(assetInfo?.id ?? event.asset, fallback: "asset")
        asset = Sanitizer.name(assetInfo?.name ?? event.asset, fallback: "asset")
        assetKind = Sanitizer.name(assetInfo?.kind ?? "", fallback: "")
        sensorID = event.sensor
        sensor = Sanitizer.name(sensorInfo?.name ?? event.sensor.rawValue, fallback: "sensor")
        let unit = Sanitizer.unit(sensorInfo?.unit ?? "")
        self.unit = unit
        let decimals = max(0, min(sensorInfo?.decimals ?? 1, 4))
        self.decimals = decimals
        start = event.start
        startText = NumberFormat.clockTime(event.start)
        duration = NumberFormat.duration(event.duration)
        let finite: (Double) -> Double = { $0.isFinite ? $0 : 0 }
        baseline = FactNumber(role: .baseline, sensor: event.sensor, value: finite(event.baseline),
                              decimals: decimals, unit: unit)
        peak = FactNumber(role: .peak, sensor: event.sensor, value: finite(event.peak), decimals: decimals, unit: unit)
        // The change is the difference of the rounded value and baseline, so the three figures add up.
        let signed = peak.value - baseline.value
        deviation = FactNumber(role: .deviation, sensor: event.sensor, value: abs(signed), decimals: decimals,
                               unit: unit)
        limit = event.limit.flatMap { $0.isFinite ? $0 : nil }.map {
            FactNumber(role: .limit, sensor: event.sensor, value: $0, decimals: decimals, unit: unit)
        }
        direction = Facts.direction(kind: event.kind, signed: signed, deviation: deviation, peak: event.peak,
                                    limit: event.limit)

        var related: [RelatedFact] = []
        let ranked = event.related.filter { $0.sensor != event.sensor }
            .sorted { abs($0.score) != abs($1.score) ? abs($0.score) > abs($1.score) : $0.sensor < $1.sensor }
        for r in ranked where related.count < Facts.maxRelated {
            guard let s = catalog.sensor(r.sensor), !related.contains(where: { $0.sensor == r.sensor }) else {
                continue
            }
            let u = Sanitizer.unit(s.unit)
            let d = max(0, min(s.decimals, 4))
            let valueFact = FactNumber(role: .relatedValue, sensor: s.id, value: finite(r.value), decimals: d, unit: u)
            let baseFact = FactNumber(role: .relatedBaseline, sensor: s.id, value: finite(r.baseline), decimals: d, unit: u)
            let value = valueFact.value, base = baseFact.value
            let dev = FactNumber(role: .relatedDeviation, sensor: s.id, value: abs(value - base), decimals: d, unit: u)
            let dir: Direction = dev.value == 0 ? .none : (value > base ? .up : .down)
            related.append(RelatedFact(
                sensor: s.id, name: Sanitizer.name(s.name, fallback: s.id.rawValue), unit: u,
                value: valueFact, baseline: baseFact,
                deviation: dev, direction: dir))
        }
        self.related = related
        incident = nil
        causes = (assetInfo?.causes[event.kind.rawValue] ?? []).prefix(4)
            .map { Sanitizer.name($0, fallback: "") }.filter { !$0.isEmpty }
    }

    /// Which of the sensor's limits `limit` is: low when the value is below it, else high.
    public var limitSide: LimitSide? {
        guard let limit else { return nil }
        return peak.value < limit.value ? .low : .high
    }

    public enum LimitSide: String, Sendable { case low, high }

    static func direction(kind: AnomalyKind, signed: Double, deviation: FactNumber, peak: Double,
                          limit: Double?) -> Direction {
        switch kind {
        case .spike: return .up
        case .dip: return .down
        case .stuck, .silence, .oscillation, .volatilityShift: return .none
        case .outOfRange:
            if let limit, limit.isFinite, peak.isFinite, peak != limit { return peak > limit ? .up : .down }
            fallthrough
        case .levelShift, .drift, .seasonal, .correlationBreak:
            if deviation.value == 0 { return .none }
            return signed > 0 ? .up : .down
        }
    }
}
