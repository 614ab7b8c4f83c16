import Agent
import ArgumentParser
import Foundation
import Simulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Generate a labelled recording of the demo plant.",
        discussion: """
            Runs a deterministic (seeded) simulation of the pumping station in the catalog — load cycles, \
            coupled pump physics, the fan-cooled heat exchanger, the tank's level controller — and injects \
            labelled faults. Writes NAME.csv (wide CSV) or NAME.jsonl (broker capture) and NAME.labels.json.

            Built-in scenarios: \(Scenario.builtIn.map(\.name).joined(separator: ", ")).
            Faults: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")).

            Examples:
              vigil simulate --scenario cavitation --out /tmp/cavitation.csv
              vigil simulate --duration 3h --seed 42 --fault bearing_wear@pump2:1h+2h --out wear.jsonl
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "A built-in scenario to start from.")
    var scenario: String?

    @Option(help: ArgumentHelp("Plant time to simulate (e.g. 2h30m); overrides the scenario's.", valueName: "duration"))
    var duration: String?

    @Option(help: "Random seed; overrides the scenario's.")
    var seed: UInt64?

    @Option(name: .customLong("fault"), parsing: .singleValue,
            help: ArgumentHelp("Inject a fault: KIND@TARGET:START+DURATION (repeatable), e.g. cavitation@pump1:70m+20m.",
                               valueName: "spec"))
    var faults: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The recording to write (.csv or .jsonl).", valueName: "file"))
    var out: String

    @Flag(help: "List the built-in scenarios and exit.")
    var list = false

    func validate() throws {
        if let scenario, !Scenario.builtIn.contains(where: { $0.name == scenario }) {
            throw ValidationError("unknown scenario `\(scenario)`; choose one of \(Scenario.builtIn.map(\.name).joined(separator: ", "))")
        }
        if let duration, (parseCompoundDuration(duration) ?? 0) <= 0 {
            throw ValidationError("--duration expects a length such as 2h or 90m, found `\(duration)`")
        }
        for f in faults where FaultInjection.parse(f) == nil {
            throw ValidationError("--fault expects KIND@TARGET:START+DURATION (e.g. spike@pump1.flow:1h+2s), found `\(f)`; kinds: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        if list {
            for s in Scenario.builtIn { print("\(s.name.padding(toLength: 15, withPad: " ", startingAt: 0)) \(s.summary)") }
            return
        }
        var chosen = Scenario.builtIn.first { $0.name == (scenario ?? "normal") } ?? Scenario.builtIn[0]
        if scenario == nil { chosen.faults = [] ; chosen.name = "custom" }
        if let duration, let seconds = parseCompoundDuration(duration) { chosen.duration = seconds }
        if let seed { chosen.seed = seed }
        chosen.faults += faults.compactMap(FaultInjection.parse)
        let result = try SimulateJob(catalogPath: catalogOptions.catalog, scenario: chosen, output: out).run()
        FileHandle.standardError.write(Data("""
            wrote \(result.recording) (\(result.readings) readings) and \(result.labelsPath) (\(result.faults.count) faults)

            """.utf8))
    }
}
