import Telemetry

/// Errors of the simulator: a catalog it cannot drive or a fault it cannot place.
public struct SimulationError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A deterministic simulation of the demo pumping station (sensors/plant.yaml):
/// load cycles, coupled pump physics, a fan-cooled heat exchanger and a level-controlled tank,
/// with labelled faults injected on top.
///
/// Internally the plant advances in one-second steps; each sensor is sampled at its catalog period.
public final class PlantSimulator {
    public let catalog: Catalog
    public let scenario: Scenario
    /// Start of the recording, ms since the epoch.
    public let start: Int64

    private var random: RandomSource
    private let pumps: [PumpModel]
    private var process = ProcessState()
    /// Per sensor: the catalog index and which physical quantity it measures.
    private let bindings: [Binding]

    struct Binding {
        var index: Int
        var quantity: Quantity
        var period: Int
        var noise: Double
        var stuckValue: Double?
    }

    enum Quantity {
        case pump(Int, PumpQuantity)
        case fanSpeed, fanCurrent, fanVibration
        case hxInlet, hxOutlet, hxCoolant
        case tankLevel, tankTemperature
    }

    enum PumpQuantity { case current, flow, discharge, suction, vibration, bearing }

    /// Prepares a run. Throws when the catalog lacks a sensor the physics needs or a fault names an unknown target.
    public init(catalog: Catalog, scenario: Scenario, start: Int64 = 1_772_431_200_000 /* 2026-03-02T06:00:00Z */) throws {
        self.catalog = catalog
        self.scenario = scenario
        self.start = start
        self.random = RandomSource(seed: scenario.seed)

        let pumpQuantities: [(String, PumpQuantity, Double)] = [
            ("current", .current, 0.25), ("flow", .flow, 0.8), ("discharge_pressure", .discharge, 0.025),
            ("suction_pressure", .suction, 0.015), ("vibration", .vibration, 0.06), ("bearing_temp", .bearing, 0.08),
        ]
        let others: [(String, Quantity, Double)] = [
            ("fan1.speed", .fanSpeed, 4), ("fan1.current", .fanCurrent, 0.08), ("fan1.vibration", .fanVibration, 0.04),
            ("hx1.inlet_temp", .hxInlet, 0.05), ("hx1.outlet_temp", .hxOutlet, 0.05), ("hx1.coolant_flow", .hxCoolant, 0.5),
            ("tank1.level", .tankLevel, 0.08), ("tank1.temperature", .tankTemperature, 0.05),
        ]
        var bindings: [Binding] = []
        func bind(_ id: String, _ quantity: Quantity, _ noise: Double) throws {
            guard let index = catalog.index(of: SensorID(id)) else {
                throw SimulationError(message: "the simulator drives the demo plant; the catalog has no sensor `\(id)`")
            }
            let period = max(1, Int(catalog.sensors[index].samplePeriod.rounded()))
            bindings.append(Binding(index: index, quantity: quantity, period: period, noise: noise))
        }
        for p in 0..<2 {
            for (suffix, quantity, noise) in pumpQuantities { try bind("pump\(p + 1).\(suffix)", .pump(p, quantity), noise) }
        }
        for (id, quantity, noise) in others { try bind(id, quantity, noise) }
        self.bindings = bindings.sorted { $0.index < $1.index }
        self.pumps = [PumpModel(share: 1.0, phase: 0), PumpModel(share: 0.9, phase: 1.7)]

        for fault in scenario.faults {
            if fault.kind.targetsAsset {
                let valid = fault.kind == .outOfRange ? ["tank1"] : ["pump1", "pump2"]
                guard valid.contains(fault.target) else {
                    throw SimulationError(message: "fault `\(fault.kind.rawValue)` applies to \(valid.joined(separator: " or ")), not `\(fault.target)`")
                }
            } else {
                guard catalog.index(of: SensorID(fault.target)) != nil else {
                    throw SimulationError(message: "fault `\(fault.kind.rawValue)`: unknown sensor `\(fault.target)`")
                }
            }
            guard fault.start >= 0, fault.duration > 0, fault.start + fault.duration <= scenario.duration + 1 else {
                throw SimulationError(message: "fault `\(fault.kind.rawValue)@\(fault.target)` must lie within the \(Int(scenario.duration)) s scenario")
            }
        }
    }

    /// Runs the whole scenario, handing each reading to `emit(sensorIndex, timestampMs, value)` in time order,
    /// and returns the labels of the injected faults.
    public func run(emit: (Int, Int64, Double) throws -> Void) throws -> [LabeledFault] {
        var bindings = self.bindings
        let steps = Int(scenario.duration)
        for second in 0..<steps {
            let t = Double(second)
            step(t)
            let timestamp = start + Int64(second) * 1000
            for k in bindings.indices where second % bindings[k].period == 0 {
                let sensorID = catalog.sensors[bindings[k].index].id.rawValue
                var value = measure(bindings[k].quantity) + bindings[k].noise * random.normal()
                var silent = false
                for fault in scenario.faults where fault.target == sensorID && t >= fault.start && t < fault.start + fault.duration {
                    switch fault.kind {
                    case .stuckSensor:
                        if bindings[k].stuckValue == nil { bindings[k].stuckValue = value }
                        value = bindings[k].stuckValue ?? value
                    case .silentSensor:
                        silent = true
                    case .spike:
                        let limits = catalog.sensors[bindings[k].index].limits
                        let span = (limits.high ?? value * 2) - (limits.low ?? 0)
                        value += 0.38 * span
                    default:
                        break
                    }
                }
                if !silent { try emit(bindings[k].index, timestamp, value) }
            }
        }
        return labels()
    }

    private func labels() -> [LabeledFault] {
        scenario.faults.map { fault in
            let affected: [SensorID]
            let description: String
            var end = fault.start + fault.duration
            switch fault.kind {
            case .cavitation:
                affected = ["current", "flow", "suction_pressure", "discharge_pressure", "vibration"].map { SensorID("\(fault.target).\($0)") }
                description = "suction pressure collapses; flow falls and oscillates; vibration and current become erratic"
            case .bearingWear:
                affected = ["bearing_temp", "vibration"].map { SensorID("\(fault.target).\($0)") }
                description = "bearing temperature and vibration drift up slowly"
            case .blockedValve:
                affected = ["flow", "current", "discharge_pressure"].map { SensorID("\(fault.target).\($0)") }
                description = "the discharge valve closes to about half: flow and current fall, discharge pressure rises"
                end += 180  // the valve takes a minute to reopen and the flow to settle
            case .outOfRange:
                affected = [SensorID("tank1.level")]
                description = "the level controller fails; the tank fills past its high limit until the controller recovers"
                end += 1200  // the level takes time to come back within limits
            case .stuckSensor:
                affected = [SensorID(fault.target)]
                description = "the transmitter repeats one value"
            case .silentSensor:
                affected = [SensorID(fault.target)]
                description = "the sensor stops publishing"
            case .spike:
                affected = [SensorID(fault.target)]
                description = "one wild reading"
            }
            let asset = catalog.sensor(affected[0])?.asset ?? fault.target
            return LabeledFault(kind: fault.kind.rawValue, asset: asset, sensors: affected,
                                start: start + Int64(fault.start * 1000), end: start + Int64(end * 1000),
                                description: description)
        }
    }

    // MARK: - Physics

    struct PumpModel {
        var share: Double
        var phase: Double
        var valve = 1.0
        var cavitation = 0.0
        var wear = 0.0
        var bearing = 52.0
        var flow = 100.0
        var suction = 1.2
        var discharge = 4.5
        var current = 30.0
        var vibration = 2.5
        var jitter = 0.0
    }

    struct ProcessState {
        var demandWalk = 0.0
        var load = 0.72
        var fanSpeed = 1200.0
        var hxInlet = 36.0
        var hxOutlet = 28.0
        var coolant = 75.0
        var tankLevel = 60.0
        var tankTemperature = 28.0
        var outflowFactor = 1.0
    }

    private var pumpState: [PumpModel] = []

    private func faultLevel(_ kind: FaultKind, _ target: String, _ t: Double, ramp: Double) -> Double {
        var level = 0.0
        for f in scenario.faults where f.kind == kind && f.target == target {
            if t >= f.start && t < f.start + f.duration {
                level = max(level, min(1, (t - f.start) / ramp))
            } else if t >= f.start + f.duration && kind != .bearingWear {
                level = max(level, max(0, 1 - (t - f.start - f.duration) / ramp))
            }
        }
        return level
    }

    private func step(_ t: Double) {
        if pumpState.isEmpty { pumpState = pumps }
        // Demand: slow cycles plus a mean-reverting walk.
        process.demandWalk += -process.demandWalk / 900 + 0.0015 * random.normal()
        process.load = 0.72 + 0.10 * _sin(2 * .pi * t / 5400) + 0.04 * _sin(2 * .pi * t / 1300 + 0.4) + process.demandWalk

        var totalFlow = 0.0
        for p in pumpState.indices {
            let name = "pump\(p + 1)"
            var pump = pumpState[p]
            pump.valve = 1 - 0.45 * faultLevel(.blockedValve, name, t, ramp: 60)
            pump.cavitation = faultLevel(.cavitation, name, t, ramp: 120)
            let wearDuration = scenario.faults.first { $0.kind == .bearingWear && $0.target == name }?.duration ?? 1
            pump.wear = faultLevel(.bearingWear, name, t, ramp: wearDuration)
            let load = process.load * pump.share + 0.02 * _sin(2 * .pi * t / 800 + pump.phase)
            pump.jitter += -pump.jitter / 5 + 0.5 * random.normal()
            let c = pump.cavitation
            let q = 150 * load * pump.valve.squareRoot() * (1 - 0.18 * c) * (1 + 0.07 * c * _sin(2 * .pi * t / 9) + 0.02 * c * pump.jitter)
            pump.flow = max(0, q)
            let r = pump.flow / 150
            pump.suction = 1.3 - 0.25 * r * r - 1.05 * c
            pump.discharge = pump.suction + 5.2 - 1.6 * r * r + 2.2 * (1 - pump.valve)
            pump.current = 14 + 24 * r + 1.6 * c * pump.jitter
            pump.vibration = 1.8 + 0.9 * r + 2.6 * pump.wear + c * (2.0 + 0.9 * abs(pump.jitter))
            let bearingTarget = 42 + 12 * r + 30 * pump.wear
            pump.bearing += (bearingTarget - pump.bearing) / 600
            totalFlow += pump.flow
            pumpState[p] = pump
        }

        // Heat exchanger and its cooling fan.
        process.hxInlet = 36 + 3 * _sin(2 * .pi * t / 7200) + 4 * (process.load - 0.72)
        process.coolant = 75 + 3 * _sin(2 * .pi * t / 2400 + 1.1)
        let speedTarget = min(1750, max(600, 1100 + 60 * (process.hxInlet - 34)))
        process.fanSpeed += (speedTarget - process.fanSpeed) / 30
        let outletTarget = process.hxInlet - 9 * (process.coolant / 75) * (process.fanSpeed / 1300).squareRoot()
        process.hxOutlet += (outletTarget - process.hxOutlet) / 120

        // The tank: inflow from both pumps, outflow set by a level controller (which fails in the overfill fault).
        let failed = faultLevel(.outOfRange, "tank1", t, ramp: 30)
        let controller = totalFlow * (1 + 0.3 * (process.tankLevel - 60) / 10)
        let outflow = (1 - failed) * controller + failed * 0.3 * totalFlow
        process.tankLevel += (totalFlow - outflow) / 3600 / 100 * 100
        process.tankLevel = min(100, max(0, process.tankLevel))
        process.tankTemperature += (process.hxOutlet - process.tankTemperature) / 900
    }

    private func measure(_ quantity: Quantity) -> Double {
        switch quantity {
        case .pump(let p, let q):
            let pump = pumpState[p]
            switch q {
            case .current: return pump.current
            case .flow: return pump.flow
            case .discharge: return pump.discharge
            case .suction: return pump.suction
            case .vibration: return pump.vibration
            case .bearing: return pump.bearing
            }
        case .fanSpeed: return process.fanSpeed
        case .fanCurrent: return 4 + 10 * pow3(process.fanSpeed / 1500)
        case .fanVibration: return 1.2 + 0.6 * process.fanSpeed / 1500
        case .hxInlet: return process.hxInlet
        case .hxOutlet: return process.hxOutlet
        case .hxCoolant: return process.coolant
        case .tankLevel: return process.tankLevel
        case .tankTemperature: return process.tankTemperature
        }
    }

    private func pow3(_ x: Double) -> Double { x * x * x }
}
