import Agent
import ArgumentParser

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Edge anomaly agent: streaming detection, on-device narration, MQTT alerts.",
        version: VigilVersion.string,
        subcommands: [
            RunCommand.self, CheckConfigCommand.self, ReplayCommand.self, RecordCommand.self, SimulateCommand.self,
            ScoreCommand.self, ExplainCommand.self, CollectEventsCommand.self, GenerateCommand.self, ModelCommand.self,
            BenchCommand.self,
        ]
    )
}
