import Agent
import ArgumentParser
import Foundation
import Logging
import MQTT
import Telemetry

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record what a broker carries into a JSON-lines file that `vigil replay` reads.",
        discussion: """
            Subscribes to the given topic filters (default `#`) and writes one line per message: \
            {"ts": <receive time, epoch ms>, "topic": ..., "payload": ...}. Stops after --duration, \
            --count messages, or on Ctrl-C (what was received is kept).

            Example: vigil record --broker mqtt://127.0.0.1:1883 --topic 'plant/#' --duration 10m --out incident.jsonl
            """
    )

    @Option(help: ArgumentHelp("The broker (default mqtt://127.0.0.1:1883): \(BrokerOption.grammar).", valueName: "url"),
            transform: BrokerOption.parse)
    var broker: MQTTConfiguration?

    @Option(name: .customLong("topic"), help: ArgumentHelp("A topic filter to subscribe to (repeatable).", valueName: "filter"))
    var topics: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The recording to write (.jsonl).", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("Stop after this long (e.g. 90s, 10m, 2h).", valueName: "duration"))
    var duration: String?

    @Option(help: "Stop after this many messages.")
    var count: Int?

    func validate() throws {
        if let duration, (ConfigNode.parseDuration(duration) ?? 0) <= 0 {
            throw ValidationError("--duration expects a length such as 90s or 10m")
        }
        if let count, count <= 0 { throw ValidationError("--count expects a positive number") }
    }

    func run() async throws {
        var recorder = BrokerRecorder(broker: BrokerOption.resolved(broker, clientID: "vigil-record-\(getpid())"), filters: topics.isEmpty ? ["#"] : topics, output: out)
        recorder.duration = duration.flatMap(ConfigNode.parseDuration)
        recorder.maxMessages = count
        let n = try await recorder.run(logger: Logger(label: "vigil.record"))
        FileHandle.standardError.write(Data("recorded \(n) messages to \(out)\n".utf8))
    }
}
