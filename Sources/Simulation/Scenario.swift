import Telemetry

/// A fault the simulator can inject; each becomes one label.
public enum FaultKind: String, Sendable, CaseIterable, Codable {
    /// Low suction pressure on a pump: flow falls and oscillates, vibration and current become erratic.
    case cavitation
    /// A pump bearing wears: its temperature and vibration drift up slowly.
    case bearingWear = "bearing_wear"
    /// A pump's discharge valve closes partly: flow and current fall, discharge pressure rises.
    case blockedValve = "blocked_valve"
    /// A transmitter freezes: the sensor repeats one value.
    case stuckSensor = "stuck_sensor"
    /// A sensor stops publishing.
    case silentSensor = "silent_sensor"
    /// A single wild reading.
    case spike
    /// A process value driven beyond its engineering limits (the tank overfills).
    case outOfRange = "out_of_range"

    /// Whether the fault targets an asset (a pump) or a single sensor.
    var targetsAsset: Bool {
        switch self {
        case .cavitation, .bearingWear, .blockedValve, .outOfRange: true
        case .stuckSensor, .silentSensor, .spike: false
        }
    }
}

/// One fault to inject: what, on which asset or sensor, from when (seconds after the start), for how long.
public struct FaultInjection: Sendable, Equatable {
    public var kind: FaultKind
    public var target: String
    public var start: Double
    public var duration: Double

    public init(kind: FaultKind, target: String, start: Double, duration: Double) {
        self.kind = kind
        self.target = target
        self.start = start
        self.duration = duration
    }

    /// Parses `KIND@TARGET:START+DURATION`, e.g. `cavitation@pump1:70m+20m` or `spike@pump1.discharge_pressure:2h10m+2s`.
    public static func parse(_ text: String) -> FaultInjection? {
        guard let at = text.firstIndex(of: "@"), let colon = text.lastIndex(of: ":"), at < colon,
              let plus = text[colon...].firstIndex(of: "+"),
              let kind = FaultKind(rawValue: String(text[..<at]))
        else { return nil }
        let target = String(text[text.index(after: at)..<colon])
        guard !target.isEmpty,
              let start = parseCompoundDuration(String(text[text.index(after: colon)..<plus])),
              let duration = parseCompoundDuration(String(text[text.index(after: plus)...]))
        else { return nil }
        return FaultInjection(kind: kind, target: target, start: start, duration: duration)
    }
}

/// `2h10m`, `90s`, `45m`, `1h` → seconds.
public func parseCompoundDuration(_ text: String) -> Double? {
    var total = 0.0
    var number = ""
    var sawUnit = false
    for c in text {
        if c.isNumber || c == "." {
            number.append(c)
        } else {
            let scale: Double
            switch c {
            case "h": scale = 3600
            case "m": scale = 60
            case "s": scale = 1
            case "d": scale = 86_400
            default: return nil
            }
            guard let v = Double(number) else { return nil }
            total += v * scale
            number = ""
            sawUnit = true
        }
    }
    if !number.isEmpty {
        guard let v = Double(number) else { return nil }
        total += v
    } else if !sawUnit {
        return nil
    }
    return total
}

/// A named plant run: its length, its seed and its faults.
public struct Scenario: Sendable, Equatable {
    public var name: String
    public var summary: String
    public var duration: Double
    public var seed: UInt64
    public var faults: [FaultInjection]

    public init(name: String, summary: String, duration: Double, seed: UInt64, faults: [FaultInjection]) {
        self.name = name
        self.summary = summary
        self.duration = duration
        self.seed = seed
        self.faults = faults
    }

    /// The scenarios of the demo plant that are committed in sensors/recordings.
    public static let builtIn: [Scenario] = [
        Scenario(name: "normal", summary: "two and a half hours of normal operation, load cycles only",
                 duration: 9000, seed: 1, faults: []),
        Scenario(name: "cavitation", summary: "pump P-101 cavitates for 20 minutes",
                 duration: 9000, seed: 2,
                 faults: [FaultInjection(kind: .cavitation, target: "pump1", start: 4200, duration: 1200)]),
        Scenario(name: "bearing-wear", summary: "pump P-102's bearing wears over 90 minutes",
                 duration: 9000, seed: 3,
                 faults: [FaultInjection(kind: .bearingWear, target: "pump2", start: 3000, duration: 6000)]),
        Scenario(name: "blocked-valve", summary: "pump P-101's discharge valve half closes for 30 minutes",
                 duration: 9000, seed: 4,
                 faults: [FaultInjection(kind: .blockedValve, target: "pump1", start: 3600, duration: 1800)]),
        Scenario(name: "sensor-faults", summary: "a frozen transmitter, a silent sensor and a pressure spike",
                 duration: 9000, seed: 5,
                 faults: [
                     FaultInjection(kind: .stuckSensor, target: "hx1.outlet_temp", start: 2700, duration: 1500),
                     FaultInjection(kind: .silentSensor, target: "pump2.flow", start: 5400, duration: 600),
                     FaultInjection(kind: .spike, target: "pump1.discharge_pressure", start: 7800, duration: 2),
                 ]),
        Scenario(name: "tank-overfill", summary: "the storage tank's level controller fails and the tank overfills",
                 duration: 9000, seed: 6,
                 faults: [FaultInjection(kind: .outOfRange, target: "tank1", start: 4800, duration: 1800)]),
    ]
}
