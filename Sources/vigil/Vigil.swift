import ArgumentParser

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Edge anomaly agent: streaming detection, on-device narration, MQTT alerts.",
        subcommands: [SimulateCommand.self, ExplainCommand.self, CollectEventsCommand.self, ModelCommand.self,
                      GenerateCommand.self, BenchCommand.self]
    )
}
