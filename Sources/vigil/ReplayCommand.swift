import Agent
import ArgumentParser
import Foundation
import Logging
import MQTT
import MicroLM
import Narration
import Telemetry

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a recorded sensor log through the whole pipeline.",
        discussion: """
            Reads a wide CSV (timestamp + one column per sensor) or a JSON-lines broker capture \
            ({"ts","topic","payload"}) and runs it through ingest, detection, narration and alert \
            assembly with a virtual clock driven by the recording's timestamps — no broker needed. \
            The same input always gives the same alerts.

            Alerts go to standard output (or --out) as JSON lines; a summary goes to standard error. \
            With --labels (default: NAME.labels.json beside the recording, when present) the summary \
            scores the events against the labelled faults: recall, precision, detection delay.

            Examples:
              vigil replay sensors/recordings/cavitation.csv
              vigil replay capture.jsonl --speed 60 --out alerts.jsonl
            """
    )

    @Argument(help: ArgumentHelp("The recording (.csv or .jsonl).", valueName: "recording"))
    var recording: String

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: ArgumentHelp("Labels to score against (default: NAME.labels.json when it exists).", valueName: "file"))
    var labels: String?

    @Flag(help: "Do not score against labels even when a labels file exists.")
    var noLabels = false

    @Option(help: ArgumentHelp("Replay at N times plant speed (default: as fast as possible).", valueName: "N"))
    var speed: Double?

    @Flag(help: "As fast as possible (the default).")
    var max = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Write alerts here instead of standard output.", valueName: "file"))
    var out: String?

    @Flag(help: "Print only the summary, not the alerts.")
    var quiet = false

    @Option(help: ArgumentHelp("Publish the recording to this broker instead of running the pipeline, so a running agent sees it: \(BrokerOption.grammar).", valueName: "url"),
            transform: BrokerOption.parse)
    var broker: MQTTConfiguration?

    @Option(help: "With --broker: the QoS of the published readings (0, 1 or 2).")
    var qos: Int = 1

    @Flag(name: [.customLong("keep-timestamps"), .customLong("no-restamp")],
          help: "With --broker: keep the recorded timestamps. By default they are re-based onto now so that a default agent accepts them: at --speed 1 or slower the recording starts now; faster, it ends now (nothing is stamped in the future).")
    var keepTimestamps = false

    @Option(help: ArgumentHelp("The narration model (default: $VIGIL_MODEL, ./models/…, /var/lib/vigil/models/…).", valueName: "file"))
    var model: String?

    @Flag(help: "Template narration only: do not load the language model.")
    var noModel = false

    @Option(help: ArgumentHelp("The narration LoRA adapter to apply on top of the model (it must have the pinned SHA-256, as `narration.adapter` in the agent's configuration); the model then gets the prompt it was trained on.", valueName: "file"))
    var adapter: String?

    @Option(help: "CPU threads for the language model.")
    var threads: Int = 2

    @Option(help: "Alert format: json (one JSON object per line, the default) or text (for people).")
    var format: OutputFormat = .json

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case json, text
    }

    func validate() throws {
        if let speed, !(speed > 0) { throw ValidationError("--speed expects a positive number, e.g. --speed 60") }
        if speed != nil && max { throw ValidationError("choose either --speed N or --max") }
        if ![0, 1, 2].contains(qos) { throw ValidationError("--qos expects 0, 1 or 2") }
        guard FileManager.default.isReadableFile(atPath: recording) else {
            throw ValidationError("cannot read the recording `\(recording)`")
        }
    }

    func run() async throws {
        let catalog = try Catalog.load(file: catalogOptions.catalog)
        if broker != nil {
            var settings = BrokerOption.resolved(broker, clientID: "vigil-replay-\(getpid())")
            settings.reconnectDelay.min = .milliseconds(200)
            var replay = BrokerReplay(recording: recording, catalog: catalog, broker: settings)
            replay.speed = speed
            replay.qos = qos
            replay.restamp = !keepTimestamps
            replay.progress = isatty(STDERR_FILENO) == 1
            let report = try await replay.run(logger: Logger(label: "vigil.replay"))
            FileHandle.standardError.write(Data(String(
                format: "published %d readings to %@ in %.2f s (%.0f/s)%@\n", report.published, settings.brokerURL, report.wallSeconds,
                Double(report.published) / Swift.max(report.wallSeconds, 1e-9),
                report.skipped + report.issues > 0 ? ", skipped \(report.skipped) cells without a catalog sensor and \(report.issues) bad rows" : "").utf8))
            return
        }
        var labelsFile: RecordingLabels?
        if !noLabels {
            let path = labels ?? SimulateJob.labelsPath(for: recording)
            if labels != nil || FileManager.default.fileExists(atPath: path) {
                labelsFile = try RecordingLabels.load(path: path)
            }
        }
        var options = ReplayRunner.Options(recording: recording, catalog: catalog, labels: labelsFile, speed: speed)
        options.progress = isatty(STDERR_FILENO) == 1
        let output = try AlertOutput(path: out, quiet: quiet, text: format == .text)
        var narrationModel: (any NarrationModel)?
        if !noModel {
            let logger = Logger(label: "vigil.replay")
            if let path = try? ModelLocator().resolve(explicit: model) {
                narrationModel = AgentModel.loadModel(path: path, adapter: adapter.map { NarrationAdapterSettings(path: $0) },
                                                      threads: threads, logger: logger)
                if narrationModel == nil, let adapter {
                    throw ValidationError("cannot load the model `\(path)` with the adapter `\(adapter)` (see the log above)")
                }
            } else if let model {
                throw ValidationError("cannot find the model `\(model)`")
            } else {
                FileHandle.standardError.write(Data("no language model found (run deploy/provision-model.sh); alerts use template text\n".utf8))
            }
        }
        let runner = ReplayRunner(options: options, narrator: try AgentNarration.replayNarrator(
            catalog: catalog, model: narrationModel, tuned: adapter != nil && narrationModel != nil))
        let report = try await runner.run { alert in try output.write(alert) }
        try output.close()
        FileHandle.standardError.write(Data(report.summary(recording: recording).utf8))
    }
}
