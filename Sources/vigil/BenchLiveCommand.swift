import Agent
import ArgumentParser
import Foundation
import Logging
import MQTT
import VigilBenchmarks

struct BenchLiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "The live agent against a broker: ingest throughput and reading-to-alert latency.",
        discussion: """
            Runs the agent in this process against the broker (start one first, e.g. \
            `mosquitto -p 18830`), publishes --readings normal readings as fast as possible (QoS 0) and \
            counts how many the agent ingested beside a plain subscriber on the same topics; then sends \
            --samples out-of-range readings one at a time (a limit breach opens its event on that reading) \
            and times each until its alert arrives through the broker (template narration: the \
            detection path only); in-range readings between them let each event resolve and cool down. Prints the figures and the peak RSS.
            """
    )

    @Option(help: ArgumentHelp("The broker (default mqtt://127.0.0.1:1883): \(BrokerOption.grammar).", valueName: "url"),
            transform: BrokerOption.parse)
    var broker: MQTTConfiguration?

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "Readings to publish for the throughput figure.")
    var readings: Int = 200_000

    @Option(help: "Alerts to time for the latency figure.")
    var samples: Int = 300

    func validate() throws {
        guard readings > 0, samples > 0 else { throw ValidationError("--readings and --samples must be positive") }
    }

    func run() async throws {
        var bench = LiveBenchmark(broker: BrokerOption.resolved(broker, clientID: "bench"), catalogPath: catalogOptions.catalog)
        bench.readings = readings
        bench.latencySamples = samples
        let f = try await bench.run(logger: Logger(label: "vigil.bench"))
        let sorted = f.latenciesMs.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(String(format: "ingest: published %d readings in %.2f s (%.0f/s); agent ingested %d, plain subscriber received %d; ratio %.3f",
                     f.published, f.publishSeconds, Double(f.published) / f.publishSeconds, f.agentIngested,
                     f.subscriberReceived, Double(f.agentIngested) / Double(max(f.subscriberReceived, 1))))
        print(String(format: "reading-to-alert latency through the broker, from the out-of-range reading that opens the event (%d alerts, %d missed): p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                     sorted.count, f.missedAlerts, pct(0.5), pct(0.99), sorted.last ?? .nan))
        print("peak RSS of this process (agent, publisher and subscribers): \(f.peakRSSKiB / 1024) MiB")
    }
}
