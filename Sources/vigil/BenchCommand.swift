import ArgumentParser

/// `vigil bench …`: benchmarks of Vigil's parts (run a release build: `swift build -c release`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Vigil's parts: detector speed, the SKAB benchmark, the language model engine, the outbox.",
        subcommands: [BenchDetectCommand.self, BenchSKABCommand.self, BenchGenerateCommand.self, BenchOutboxCommand.self]
    )
}
