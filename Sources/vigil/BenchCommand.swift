import ArgumentParser

/// `vigil bench …`: benchmarks of Vigil's parts (run a release build: `swift build -c release`).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Vigil's parts: detector, SKAB benchmark, no-anomaly corpus, language model engine, outbox, live agent, model bundle check.",
        subcommands: [
            BenchDetectCommand.self, BenchSKABCommand.self, BenchQuietCommand.self, BenchGenerateCommand.self, BenchOutboxCommand.self,
            BenchLiveCommand.self, BenchBundleCommand.self,
        ]
    )
}
